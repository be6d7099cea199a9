//! Mesos' resource text (`corral::domain::parse_resources`): what parses
//! formats back (`format_resources`) to text that parses to the same list.

use corral::domain::{format_resources, parse_resources};

use crate::{Check, Target, Verdict};

fn check(input: &[u8]) -> Verdict {
    let Ok(text) = std::str::from_utf8(input) else {
        return Verdict::Rejected;
    };
    let Ok(list) = parse_resources(text) else {
        return Verdict::Rejected;
    };
    let formatted = format_resources(&list);
    let again = parse_resources(&formatted).unwrap_or_else(|e| {
        panic!("{text:?} parses, but its formatted form {formatted:?} does not: {e}")
    });
    assert_eq!(
        again, list,
        "{text:?} formats as {formatted:?}, which parses differently"
    );
    Verdict::Accepted
}

pub fn target() -> Target {
    Target {
        name: "resource-text",
        about: "Mesos' resource text (`cpus:0.5;ports:[31000-32000]`), parsed and formatted back",
        seeds: || {
            [
                "cpus:0.5; mem(web):64;ports:[31000-31010, 32000-32000];disks:{a,b}",
                "cpus:4;mem:1024;disk:10000;ports:[31000-32000]",
                "gpus(*):1;mem(role/sub):1e3",
                "ports:[]",
                "x:{}",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect()
        },
        generate: None,
        dictionary: || {
            [
                ";",
                ":",
                "(",
                ")",
                "[",
                "]",
                "{",
                "}",
                ",",
                "-",
                "*",
                "1e308",
                "inf",
                "NaN",
                "-0",
                "18446744073709551615",
                "0x10",
                " ",
                "cpus",
                "mem",
                "ports",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect()
        },
        setup: || -> Check { Box::new(check) },
        max_len: 1024,
    }
}
