//! `$context.name` references in access-log format strings, as AWS writes them: read by the
//! gateway's access log (to render) and by `tollgate aws access-logs` (to parse what a
//! gateway wrote), so both agree on where a name ends.

/// The variable name referenced right after a `$` (`after` starts after the `$`), and how
/// many bytes of `after` the reference takes. `${context.name}` and `$context.name` are
/// accepted; an unbraced name runs over letters, digits, `.` and `_`, not ending in `.`.
/// `None` when `after` starts no `context.` reference (or an empty or unclosed one).
pub fn context_ref(after: &str) -> Option<(&str, usize)> {
    let (braced, body) = match after.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, after),
    };
    let name_start = body.strip_prefix("context.")?;
    let len = if braced {
        name_start.find('}')?
    } else {
        let mut len = name_start
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            .unwrap_or(name_start.len());
        while len > 0 && name_start.as_bytes()[len - 1] == b'.' {
            len -= 1;
        }
        len
    };
    (len > 0).then(|| {
        let consumed = usize::from(braced) * 2 + "context.".len() + len;
        (&name_start[..len], consumed)
    })
}

#[cfg(test)]
mod tests {
    use super::context_ref;

    #[test]
    fn names_end_where_aws_ends_them() {
        assert_eq!(context_ref("context.requestId x"), Some(("requestId", 17)));
        assert_eq!(
            context_ref("context.identity.sourceIp\","),
            Some(("identity.sourceIp", 25))
        );
        assert_eq!(context_ref("context.status."), Some(("status", 14)));
        assert_eq!(context_ref("{context.status}ms"), Some(("status", 16)));
        assert_eq!(context_ref("{context.status"), None);
        assert_eq!(context_ref("context."), None);
        assert_eq!(context_ref("{context.}"), None);
        assert_eq!(context_ref("stageVariables.x"), None);
    }
}
