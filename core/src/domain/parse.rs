//! Mesos' resource text: `cpus:0.5;mem:64;ports:[31000-31010,32000-32000];disks:{a,b}`,
//! with an optional role as `cpus(web):2`.

use super::{Resource, ResourceValue};

/// What is wrong with one item of resource text (the item is quoted first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceTextError {
    #[error("'{item}' is not NAME:VALUE")]
    NotNameValue { item: String },
    #[error("'{item}': unclosed role")]
    UnclosedRole { item: String },
    #[error("'{item}' has no resource name")]
    NoName { item: String },
    #[error("'{item}': range '{range}' is not BEGIN-END")]
    RangeNotBeginEnd { item: String, range: String },
    #[error("'{item}': range '{range}' ends before it begins")]
    RangeBackwards { item: String, range: String },
    #[error("'{item}': '{text}' is not a number")]
    NotANumber { item: String, text: String },
    #[error("'{item}': the value must be a non-negative number")]
    Negative { item: String },
}

/// Parses resource text, naming the first bad item.
pub fn parse_resources(text: &str) -> Result<Vec<Resource>, ResourceTextError> {
    text.split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let owned = || item.to_owned();
            let (head, value) = item
                .split_once(':')
                .ok_or_else(|| ResourceTextError::NotNameValue { item: owned() })?;
            let (name, role) = match head.split_once('(') {
                Some((name, rest)) => {
                    let role = rest
                        .strip_suffix(')')
                        .ok_or_else(|| ResourceTextError::UnclosedRole { item: owned() })?;
                    (name.trim(), role.trim())
                }
                None => (head.trim(), "*"),
            };
            if name.is_empty() {
                return Err(ResourceTextError::NoName { item: owned() });
            }
            let not_a_number = |text: &str| ResourceTextError::NotANumber {
                item: owned(),
                text: text.to_owned(),
            };
            let value = value.trim();
            let value = if let Some(inner) =
                value.strip_prefix('[').and_then(|v| v.strip_suffix(']'))
            {
                let ranges = inner
                    .split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(|r| {
                        let (b, e) = r.split_once('-').ok_or_else(|| {
                            ResourceTextError::RangeNotBeginEnd {
                                item: owned(),
                                range: r.to_owned(),
                            }
                        })?;
                        let parse = |s: &str| s.trim().parse::<u64>().map_err(|_| not_a_number(s));
                        let (b, e) = (parse(b)?, parse(e)?);
                        if b > e {
                            return Err(ResourceTextError::RangeBackwards {
                                item: owned(),
                                range: r.to_owned(),
                            });
                        }
                        Ok((b, e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
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
                let v: f64 = value.parse().map_err(|_| not_a_number(value))?;
                if !v.is_finite() || v < 0.0 {
                    return Err(ResourceTextError::Negative { item: owned() });
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
            parse_resources("cpus").unwrap_err().to_string(),
            "'cpus' is not NAME:VALUE"
        );
        assert_eq!(
            parse_resources("cpus:x").unwrap_err().to_string(),
            "'cpus:x': 'x' is not a number"
        );
        assert_eq!(
            parse_resources("mem:-1").unwrap_err().to_string(),
            "'mem:-1': the value must be a non-negative number"
        );
        assert_eq!(
            parse_resources("ports:[5-1]").unwrap_err().to_string(),
            "'ports:[5-1]': range '5-1' ends before it begins"
        );
        assert_eq!(
            parse_resources("cpus:1;ports:[1-x]").unwrap_err(),
            ResourceTextError::NotANumber {
                item: "ports:[1-x]".into(),
                text: "x".into()
            }
        );
    }
}
