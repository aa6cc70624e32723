//! Paths that could make the gateway and a backend disagree about which resource is meant.
//!
//! Routing (and so authorization, API keys and throttles) is decided on the path tollgate
//! sees; the backend then resolves the path it receives. If the two differ, a caller can reach
//! a resource through a route that does not protect it: `/public/../admin` matches
//! `/public/{proxy+}` here and is `/admin` to a backend that resolves dot segments. So:
//!
//! - a dot segment (`.` or `..`), also when spelled with `%2e`, or separated by an encoded
//!   slash (`%2f`) or a backslash (raw or `%5c`), is refused with 400: browsers and HTTP
//!   clients resolve dot segments before sending, so only crafted requests carry them;
//! - runs of slashes (`//`) are collapsed to one before routing, and the collapsed path is
//!   what the integration receives, so both sides see the same path.
//!
//! The common case (no `.`, `%`, `\` or `//` in the path) is one scan and no allocation.

use std::borrow::Cow;

/// What to do with a request path.
#[derive(Debug, PartialEq, Eq)]
pub enum PathCheck<'a> {
    /// Route on this path (borrowed when unchanged).
    Route(Cow<'a, str>),
    /// Refuse the request: it contains a dot segment.
    Reject,
}

/// Check a request path (without the query).
pub fn check(path: &str) -> PathCheck<'_> {
    let bytes = path.as_bytes();
    let suspicious = bytes.iter().any(|&b| b == b'.' || b == b'%' || b == b'\\')
        || bytes.windows(2).any(|w| w == b"//");
    if !suspicious {
        return PathCheck::Route(Cow::Borrowed(path));
    }
    if has_dot_segment(path) {
        return PathCheck::Reject;
    }
    if !path.contains("//") {
        return PathCheck::Route(Cow::Borrowed(path));
    }
    let mut out = String::with_capacity(path.len());
    let mut prev_slash = false;
    for c in path.chars() {
        if c == '/' {
            if prev_slash {
                continue;
            }
            prev_slash = true;
        } else {
            prev_slash = false;
        }
        out.push(c);
    }
    PathCheck::Route(Cow::Owned(out))
}

/// Whether any segment is `.` or `..` once `%2e` is read as `.`, and `%2f`, `%5c` and `\` as
/// separators.
fn has_dot_segment(path: &str) -> bool {
    let bytes = path.as_bytes();
    // Walk the path, building each segment's "dots only" state without allocating.
    let mut i = 0;
    let mut dots = 0usize; // dots in the current segment so far
    let mut other = false; // the current segment has a character other than a dot
    let end_segment = |dots: usize, other: bool| !other && (dots == 1 || dots == 2);
    while i < bytes.len() {
        let (unit, len) = match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => (h * 16 + l, 3),
                _ => (b'%', 1),
            },
            b => (b, 1),
        };
        match unit {
            b'/' | b'\\' => {
                if end_segment(dots, other) {
                    return true;
                }
                dots = 0;
                other = false;
            }
            b'.' => dots += 1,
            _ => other = true,
        }
        i += len;
    }
    end_segment(dots, other)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(p: &str) -> Option<String> {
        match check(p) {
            PathCheck::Route(r) => Some(r.into_owned()),
            PathCheck::Reject => None,
        }
    }

    #[test]
    fn ordinary_paths_pass_unchanged() {
        for p in [
            "/",
            "/pets",
            "/pets/7",
            "/files/report.pdf",
            "/v1.2/items",
            "/a/...",
            "/a/.hidden",
            "/a/b..c",
            "/search%20term",
            "/a%2Fb",
        ] {
            assert_eq!(routed(p).as_deref(), Some(p), "{p}");
        }
        assert!(matches!(
            check("/pets/7"),
            PathCheck::Route(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn dot_segments_in_any_spelling_are_refused() {
        for p in [
            "/public/../admin",
            "/public/./admin",
            "/..",
            "/.",
            "/public/..",
            "/public/%2e%2e/admin",
            "/public/%2E%2E/admin",
            "/public/.%2e/admin",
            "/public/%2e/admin",
            "/public/..%2fadmin",
            "/public/..%2Fadmin",
            "/public%2f..%2fadmin",
            "/public/..\\admin",
            "/public/..%5cadmin",
            "/public\\..\\admin",
        ] {
            assert_eq!(routed(p), None, "{p}");
        }
    }

    #[test]
    fn slash_runs_collapse() {
        assert_eq!(routed("//admin").as_deref(), Some("/admin"));
        assert_eq!(routed("/a//b///c").as_deref(), Some("/a/b/c"));
        assert_eq!(routed("/a/b/").as_deref(), Some("/a/b/"));
    }

    #[test]
    fn a_truncated_escape_is_an_ordinary_character() {
        assert_eq!(routed("/a/%2").as_deref(), Some("/a/%2"));
        assert_eq!(routed("/a/%").as_deref(), Some("/a/%"));
        assert_eq!(routed("/a/.%2").as_deref(), Some("/a/.%2"));
    }
}
