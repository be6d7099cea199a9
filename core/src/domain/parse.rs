//! Mesos' resource text: `cpus:0.5;mem:64;ports:[31000-31010,32000-32000];disks:{a,b}`,
//! with an optional role as `cpus(web):2`.

use super::{Resource, ResourceValue};

/// Parses resource text, naming the first bad item.
pub fn parse_resources(text: &str) -> Result<Vec<Resource>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (head, value) = item
                .split_once(':')
                .ok_or_else(|| format!("'{item}' is not NAME:VALUE"))?;
            let (name, role) = match head.split_once('(') {
                Some((name, rest)) => {
                    let role = rest
                        .strip_suffix(')')
                        .ok_or_else(|| format!("'{item}': unclosed role"))?;
                    (name.trim(), role.trim())
                }
                None => (head.trim(), "*"),
            };
            if name.is_empty() {
                return Err(format!("'{item}' has no resource name"));
            }
            let value = value.trim();
            let value = if let Some(inner) =
                value.strip_prefix('[').and_then(|v| v.strip_suffix(']'))
            {
                let ranges = inner
                    .split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(|r| {
                        let (b, e) = r
                            .split_once('-')
                            .ok_or_else(|| format!("'{item}': range '{r}' is not BEGIN-END"))?;
                        let parse = |s: &str| {
                            s.trim()
                                .parse::<u64>()
                                .map_err(|_| format!("'{item}': '{s}' is not a number"))
                        };
                        let (b, e) = (parse(b)?, parse(e)?);
                        if b > e {
                            return Err(format!("'{item}': range '{r}' ends before it begins"));
                        }
                        Ok((b, e))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                ResourceValue::Ranges(ranges)
            } else if let Some(inner) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
                ResourceValue::Set(
                    inner
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                )
            } else {
                let v: f64 = value
                    .parse()
                    .map_err(|_| format!("'{item}': '{value}' is not a number"))?;
                if !v.is_finite() || v < 0.0 {
                    return Err(format!("'{item}': the value must be a non-negative number"));
                }
                ResourceValue::Scalar(v)
            };
            Ok(Resource {
                name: name.to_owned(),
                role: role.to_owned(),
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesos_resource_text_parses() {
        let r =
            parse_resources("cpus:0.5; mem(web):64;ports:[31000-31010, 32000-32000];disks:{a,b}")
                .unwrap();
        assert_eq!(r[0], Resource::scalar("cpus", 0.5));
        assert_eq!(r[1].role, "web");
        assert_eq!(
            r[2].value,
            ResourceValue::Ranges(vec![(31000, 31010), (32000, 32000)])
        );
        assert_eq!(r[3].value, ResourceValue::Set(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn bad_items_are_named() {
        assert_eq!(
            parse_resources("cpus").unwrap_err(),
            "'cpus' is not NAME:VALUE"
        );
        assert_eq!(
            parse_resources("cpus:x").unwrap_err(),
            "'cpus:x': 'x' is not a number"
        );
        assert_eq!(
            parse_resources("mem:-1").unwrap_err(),
            "'mem:-1': the value must be a non-negative number"
        );
        assert_eq!(
            parse_resources("ports:[5-1]").unwrap_err(),
            "'ports:[5-1]': range '5-1' ends before it begins"
        );
    }
}
