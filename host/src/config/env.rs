//! `${env:NAME}` in the config values that differ from host to host while the file does not: a
//! remote-write URL with the node's address (`http://${env:NODE_IP}:38086/api/v1/prometheus` in
//! a Kubernetes ConfigMap, NODE_IP from the downward API) and remote-write header values.
//!
//! The syntax is the OpenTelemetry Collector's: it cannot be mistaken for a relabel
//! replacement's `${1}` or `$name`, so it is unambiguous wherever it appears. A variable that is
//! not set is an error, never an empty string: a URL with a hole would send the samples elsewhere.

/// `value` with each `${env:NAME}` replaced by the environment variable `NAME`, read by `lookup`.
/// `$${` stands for a literal `${`.
pub fn expand(value: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            // `$${`: the escape, written as `${`.
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed `${{` in {value:?}"));
        };
        let reference = &after[..end];
        let Some(name) = reference.strip_prefix("env:") else {
            // Only `env:` is ours; anything else stays as written.
            out.push_str("${");
            rest = after;
            continue;
        };
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("`${{{reference}}}`: not a variable name"));
        }
        let Some(expanded) = lookup(name) else {
            return Err(format!(
                "`${{env:{name}}}`: the environment variable {name} is not set"
            ));
        };
        out.push_str(&expanded);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// [`expand`] from the process environment.
pub fn expand_from_process(value: &str) -> Result<String, String> {
    expand(value, |name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "NODE_IP" => Some("10.0.0.7".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_variables() {
        assert_eq!(
            expand("http://${env:NODE_IP}:38086/api/v1/prometheus", env).unwrap(),
            "http://10.0.0.7:38086/api/v1/prometheus"
        );
        assert_eq!(
            expand("${env:NODE_IP}${env:EMPTY}!", env).unwrap(),
            "10.0.0.7!"
        );
        assert_eq!(expand("plain", env).unwrap(), "plain");
    }

    #[test]
    fn leaves_other_references_and_honours_the_escape() {
        assert_eq!(expand("${1}-$$x-${name}", env).unwrap(), "${1}-$$x-${name}");
        assert_eq!(expand("$${env:NODE_IP}", env).unwrap(), "${env:NODE_IP}");
    }

    #[test]
    fn refuses_what_it_cannot_expand() {
        assert_eq!(
            expand("http://${env:NODE_HOST}/", env).unwrap_err(),
            "`${env:NODE_HOST}`: the environment variable NODE_HOST is not set"
        );
        assert!(
            expand("${env:NODE_IP", env)
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            expand("${env:}", env)
                .unwrap_err()
                .contains("not a variable name")
        );
        assert!(
            expand("${env:A-B}", env)
                .unwrap_err()
                .contains("not a variable name")
        );
    }
}
