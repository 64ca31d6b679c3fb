//! Check questions: the right answer (written in the lesson, or read from netlab's own
//! output: a fresh run or the learner's saved one) and the judgement of an answer.
//!
//! I/O-free: the caller runs the commands and hands their output in.

use std::fmt;

use serde_json::Value;

use super::lesson::{Answer, Check, Extract, PacketSel, Reduce, choice_letter};

/// What counts as right for one question, once its output is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Any of these texts (compared loosely: case, spaces, quotes; numbers as numbers).
    Texts(Vec<String>),
    /// A choice: its index and the list.
    Choice { choices: Vec<String>, right: usize },
    /// A value read from output.
    Value(Value),
}

/// The answer could not be read from the output: the lesson or the command is wrong
/// (an error, not the learner's fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeError(pub String);

impl fmt::Display for ComputeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ComputeError {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Right,
    /// Wrong, and why (without giving the answer away).
    Wrong(String),
}

impl Expected {
    /// The right answer as a learner would write it.
    pub fn shown(&self) -> String {
        match self {
            Expected::Texts(t) => t[0].clone(),
            Expected::Choice { choices, right } => {
                format!("{}) {}", (b'a' + *right as u8) as char, choices[*right])
            }
            Expected::Value(v) => value_text(v),
        }
    }
}

/// The right answer of `check`, given the stdout of its command (`None` for a literal
/// or choice question).
pub fn expected(check: &Check, output: Option<&str>) -> Result<Expected, ComputeError> {
    match &check.answer {
        Answer::Literal(texts) => Ok(Expected::Texts(texts.clone())),
        Answer::Choice { choices, right } => Ok(Expected::Choice {
            choices: choices.clone(),
            right: *right,
        }),
        Answer::Computed { extract, .. } => {
            let out =
                output.ok_or_else(|| ComputeError("no output to read the answer from".into()))?;
            extract_value(extract, out).map(Expected::Value)
        }
    }
}

/// Reads a value out of a command's standard output.
pub fn extract_value(extract: &Extract, out: &str) -> Result<Value, ComputeError> {
    match extract {
        Extract::Field { name, packet } => {
            let packets = ndjson(out)?;
            let pkt = match packet {
                PacketSel::First => packets.first(),
                PacketSel::Last => packets.last(),
                PacketSel::Number(n) => packets
                    .iter()
                    .find(|p| p.get("number").and_then(Value::as_u64) == Some(*n)),
            }
            .ok_or_else(|| {
                ComputeError(format!("the output has no packet {}", sel_name(*packet)))
            })?;
            field(pkt, name).cloned().ok_or_else(|| {
                ComputeError(format!(
                    "packet {} has no field `{name}`",
                    sel_name(*packet)
                ))
            })
        }
        Extract::Reduce { name, reduce } => {
            let packets = ndjson(out)?;
            let values: Vec<&Value> = packets.iter().filter_map(|p| field(p, name)).collect();
            let numbers = || -> Result<Vec<f64>, ComputeError> {
                values
                    .iter()
                    .map(|v| {
                        v.as_f64()
                            .ok_or_else(|| ComputeError(format!("`{name}` is not a number: {v}")))
                    })
                    .collect()
            };
            let number = |x: f64| {
                serde_json::Number::from_f64(x)
                    .map(|n| {
                        if x.fract() == 0.0 && x.abs() < 9e15 {
                            Value::from(x as i64)
                        } else {
                            Value::Number(n)
                        }
                    })
                    .unwrap_or(Value::Null)
            };
            match reduce {
                Reduce::Count => Ok(Value::from(values.len())),
                Reduce::Distinct => {
                    let mut seen: Vec<&Value> = Vec::new();
                    for v in &values {
                        if !seen.contains(v) {
                            seen.push(v);
                        }
                    }
                    Ok(Value::from(seen.len()))
                }
                Reduce::Sum => Ok(number(numbers()?.iter().sum())),
                Reduce::Spacing => {
                    let n = numbers()?;
                    if n.len() < 2 {
                        return Err(ComputeError(format!(
                            "`{name}`: the spacing of values needs two of them, the output has {}",
                            n.len()
                        )));
                    }
                    Ok(number((n[n.len() - 1] - n[0]) / (n.len() - 1) as f64))
                }
                Reduce::Min | Reduce::Max => {
                    let n = numbers()?;
                    if n.is_empty() {
                        return Err(ComputeError(format!("no packet has the field `{name}`")));
                    }
                    let pick = if *reduce == Reduce::Min {
                        f64::min
                    } else {
                        f64::max
                    };
                    Ok(number(n.iter().copied().fold(n[0], pick)))
                }
            }
        }
        Extract::Json { pointer, select } => {
            if let Ok(doc) = serde_json::from_str::<Value>(out.trim()) {
                return doc.pointer(pointer).cloned().ok_or_else(|| {
                    ComputeError(format!("the JSON output has nothing at `{pointer}`"))
                });
            }
            let lines = ndjson(out)?;
            lines
                .iter()
                .filter(|l| {
                    select
                        .iter()
                        .all(|(k, want)| l.get(k.as_str()).is_some_and(|v| value_text(v) == *want))
                })
                .find_map(|l| l.pointer(pointer))
                .cloned()
                .ok_or_else(|| {
                    let sel: Vec<String> = select.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    ComputeError(format!(
                        "no line of the output has `{pointer}`{}",
                        if sel.is_empty() {
                            String::new()
                        } else {
                            format!(" where {}", sel.join(", "))
                        }
                    ))
                })
        }
        Extract::Match { source, re } => {
            let caps = re
                .captures(out)
                .ok_or_else(|| ComputeError(format!("{source} does not match the output")))?;
            let m = caps
                .get(1)
                .or_else(|| caps.get(0))
                .map_or("", |m| m.as_str());
            Ok(m.parse::<i64>()
                .map(Value::from)
                .or_else(|_| m.parse::<f64>().map(Value::from))
                .unwrap_or_else(|_| Value::String(m.to_string())))
        }
    }
}

fn sel_name(p: PacketSel) -> String {
    match p {
        PacketSel::First => "first".into(),
        PacketSel::Last => "last".into(),
        PacketSel::Number(n) => n.to_string(),
    }
}

/// A field of a `netlab dissect --json` packet (under `fields`, or at the top).
fn field<'v>(pkt: &'v Value, name: &str) -> Option<&'v Value> {
    pkt.get("fields")
        .and_then(|f| f.get(name))
        .or_else(|| pkt.get(name))
}

fn ndjson(out: &str) -> Result<Vec<Value>, ComputeError> {
    let mut v = Vec::new();
    for (i, line) in out
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        v.push(serde_json::from_str(line).map_err(|e| {
            ComputeError(format!(
                "line {} of the output is not JSON ({e}): {line}",
                i + 1
            ))
        })?);
    }
    if v.is_empty() {
        return Err(ComputeError("the command printed nothing".into()));
    }
    Ok(v)
}

/// A JSON value as a learner would type it.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Case, surrounding space and quotes, a final full stop and doubled spaces do not matter.
fn loose(s: &str) -> String {
    let s = s.trim().trim_end_matches('.').trim();
    let s = s
        .strip_prefix('`')
        .and_then(|x| x.strip_suffix('`'))
        .or_else(|| s.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
        .or_else(|| s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(s);
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Units a learner may write after a number (`13,032 B`, `40 ms`, `10 segments`): the
/// questions say which unit they ask for, so the unit itself is not judged.
const UNITS: &[&str] = &[
    "b",
    "byte",
    "bytes",
    "kb",
    "mb",
    "bit",
    "bits",
    "ms",
    "s",
    "sec",
    "seconds",
    "second",
    "segment",
    "segments",
    "mss",
    "packet",
    "packets",
    "frame",
    "frames",
    "datagram",
    "datagrams",
    "message",
    "messages",
    "stream",
    "streams",
    "connection",
    "connections",
    "retransmission",
    "retransmissions",
    "time",
    "times",
    "%",
];

/// A number as typed: `1,460`, `65 536`, `1_000`, `0x1f`, `-3`, `0.25`, with or without
/// a unit after it (`13,032 B`, `40ms`).
fn number(s: &str) -> Option<f64> {
    let t = loose(s);
    if let Some(hex) = t.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().map(|n| n as f64);
    }
    let t = UNITS
        .iter()
        .filter_map(|u| t.strip_suffix(u))
        .map(str::trim_end)
        .find(|rest| rest.ends_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(&t);
    let digits: String = t
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' '))
        .collect();
    if digits.is_empty() || !digits.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn boolean(s: &str) -> Option<bool> {
    match loose(s).as_str() {
        "true" | "yes" | "set" | "1" | "y" => Some(true),
        "false" | "no" | "not set" | "unset" | "0" | "n" => Some(false),
        _ => None,
    }
}

/// Judges `answer` against what is right.
pub fn judge(expected: &Expected, answer: &str, tolerance: Option<f64>) -> Verdict {
    let a = answer.trim();
    if a.is_empty() {
        return Verdict::Wrong("no answer".into());
    }
    let same_text = |right: &str| -> Option<bool> {
        match (number(right), number(a)) {
            (Some(r), Some(x)) => {
                Some((r - x).abs() <= tolerance.unwrap_or(0.0) + f64::EPSILON * r.abs())
            }
            (Some(_), None) => None,
            _ => Some(loose(right) == loose(a)),
        }
    };
    match expected {
        Expected::Texts(texts) => {
            let verdicts: Vec<Option<bool>> = texts.iter().map(|t| same_text(t)).collect();
            if verdicts.contains(&Some(true)) {
                Verdict::Right
            } else if verdicts.iter().all(Option::is_none) {
                Verdict::Wrong(format!("`{a}` is not a number, and the answer is one"))
            } else {
                Verdict::Wrong(format!("`{a}` is not it"))
            }
        }
        Expected::Choice { choices, right } => {
            let picked = choice_letter(a)
                .filter(|i| *i < choices.len())
                .or_else(|| choices.iter().position(|c| loose(c) == loose(a)));
            match picked {
                Some(i) if i == *right => Verdict::Right,
                Some(i) => Verdict::Wrong(format!("{}) is not it", (b'a' + i as u8) as char)),
                None => Verdict::Wrong(format!(
                    "`{a}` is none of the choices: answer with a letter from a to {}",
                    (b'a' + choices.len() as u8 - 1) as char
                )),
            }
        }
        Expected::Value(v) => match v {
            Value::Bool(b) => match boolean(a) {
                Some(x) if x == *b => Verdict::Right,
                Some(_) => Verdict::Wrong(format!("`{a}` is not what the output says")),
                None => Verdict::Wrong(format!("`{a}`: the answer is yes or no")),
            },
            Value::Number(n) => match number(a) {
                Some(x) => {
                    let r = n.as_f64().unwrap_or(f64::NAN);
                    if (r - x).abs() <= tolerance.unwrap_or(0.0) + f64::EPSILON * r.abs() {
                        Verdict::Right
                    } else {
                        Verdict::Wrong(format!("`{a}` is not what the output says"))
                    }
                }
                None => Verdict::Wrong(format!("`{a}` is not a number, and the answer is one")),
            },
            other => {
                if same_text(&value_text(other)) == Some(true) {
                    Verdict::Right
                } else {
                    Verdict::Wrong(format!("`{a}` is not what the output says"))
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    const DISSECT: &str = concat!(
        r#"{"number":1,"fields":{"ip.ttl":64,"tcp.srcport":57950,"tcp.stream":0,"tcp.flags.syn":true}}"#,
        "\n",
        r#"{"number":2,"fields":{"ip.ttl":63,"tcp.srcport":80,"tcp.stream":0,"tcp.flags.syn":true}}"#,
        "\n",
        r#"{"number":3,"fields":{"ip.ttl":64,"udp.srcport":53}}"#,
        "\n",
    );

    fn field(name: &str, packet: PacketSel) -> Extract {
        Extract::Field {
            name: name.into(),
            packet,
        }
    }

    #[test]
    fn fields_from_packets() {
        let v = |e: Extract| extract_value(&e, DISSECT);
        assert_eq!(
            v(field("ip.ttl", PacketSel::Number(2))),
            Ok(Value::from(63))
        );
        assert_eq!(
            v(field("tcp.srcport", PacketSel::First)),
            Ok(Value::from(57950))
        );
        assert_eq!(
            v(field("udp.srcport", PacketSel::Last)),
            Ok(Value::from(53))
        );
        assert!(
            v(field("udp.srcport", PacketSel::First))
                .unwrap_err()
                .0
                .contains("no field")
        );
        assert!(
            v(field("ip.ttl", PacketSel::Number(9)))
                .unwrap_err()
                .0
                .contains("no packet 9")
        );
        let r = |name: &str, reduce| {
            v(Extract::Reduce {
                name: name.into(),
                reduce,
            })
        };
        assert_eq!(r("tcp.stream", Reduce::Distinct), Ok(Value::from(1)));
        assert_eq!(r("ip.ttl", Reduce::Count), Ok(Value::from(3)));
        assert_eq!(r("ip.ttl", Reduce::Sum), Ok(Value::from(191)));
        assert_eq!(r("ip.ttl", Reduce::Min), Ok(Value::from(63)));
        assert_eq!(r("tcp.srcport", Reduce::Max), Ok(Value::from(57950)));
        // (63 - 64) and (64 - 63): a mean gap of 0 from first to last.
        assert_eq!(r("ip.ttl", Reduce::Spacing), Ok(Value::from(0)));
        assert!(
            r("udp.srcport", Reduce::Spacing)
                .unwrap_err()
                .0
                .contains("needs two")
        );
        assert!(extract_value(&field("x", PacketSel::First), "not json").is_err());
        assert!(extract_value(&field("x", PacketSel::First), "").is_err());
    }

    #[test]
    fn json_pointers_and_ndjson_lines() {
        let doc = r#"{"udp":{"lost":17},"tcp":{"lost":0}}"#;
        let json = |p: &str, select: &[(&str, &str)]| Extract::Json {
            pointer: p.into(),
            select: select
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert_eq!(
            extract_value(&json("/udp/lost", &[]), doc),
            Ok(Value::from(17))
        );
        assert!(extract_value(&json("/udp/nothing", &[]), doc).is_err());
        let events = "{\"event\":\"socket\",\"who\":\"server\",\"fd\":3}\n\
                      {\"event\":\"getsockname\",\"who\":\"client\",\"ephemeral_port\":41000}\n\
                      {\"event\":\"socket\",\"who\":\"client\",\"fd\":5}\n";
        assert_eq!(
            extract_value(&json("/ephemeral_port", &[]), events),
            Ok(Value::from(41000))
        );
        assert_eq!(
            extract_value(
                &json("/fd", &[("event", "socket"), ("who", "client")]),
                events
            ),
            Ok(Value::from(5))
        );
        assert!(
            extract_value(&json("/fd", &[("who", "nobody")]), events)
                .unwrap_err()
                .0
                .contains("who=nobody")
        );
    }

    #[test]
    fn a_regex_group_from_text() {
        let m = Extract::Match {
            source: "/port (\\d+)/".into(),
            re: Regex::new(r"port (\d+)").unwrap(),
        };
        assert_eq!(
            extract_value(&m, "picked ephemeral port 41000 from"),
            Ok(Value::from(41000))
        );
        assert!(extract_value(&m, "nothing").is_err());
    }

    #[test]
    fn answers_are_judged_loosely_but_not_generously() {
        let texts = Expected::Texts(vec!["RST, ACK".into(), "RST/ACK".into()]);
        assert_eq!(judge(&texts, " rst,  ack. ", None), Verdict::Right);
        assert_eq!(judge(&texts, "`RST/ACK`", None), Verdict::Right);
        assert!(matches!(judge(&texts, "FIN", None), Verdict::Wrong(_)));
        assert!(matches!(judge(&texts, "", None), Verdict::Wrong(r) if r == "no answer"));

        let n = Expected::Texts(vec!["65536".into()]);
        assert_eq!(judge(&n, "65,536", None), Verdict::Right);
        assert_eq!(judge(&n, "65 536", None), Verdict::Right);
        assert!(matches!(judge(&n, "many", None), Verdict::Wrong(r) if r.contains("not a number")));
        assert!(matches!(judge(&n, "65535", None), Verdict::Wrong(_)));
        // A unit after the number is fine; a unit alone is not a number.
        assert_eq!(judge(&n, "65,536 bytes", None), Verdict::Right);
        assert_eq!(judge(&n, "65536B", None), Verdict::Right);
        assert_eq!(judge(&n, "65536 datagrams", None), Verdict::Right);
        let one = Expected::Value(Value::from(1));
        assert_eq!(judge(&one, "1 retransmission", None), Verdict::Right);
        assert!(matches!(judge(&one, "1 apples", None), Verdict::Wrong(_)));
        assert!(matches!(judge(&n, "ms", None), Verdict::Wrong(r) if r.contains("not a number")));
        let s = Expected::Value(Value::from("13,032"));
        assert_eq!(judge(&s, "13032 B", None), Verdict::Right);
        assert_eq!(
            judge(&Expected::Value(Value::from(40)), "41 ms", Some(1.0)),
            Verdict::Right
        );

        let v = Expected::Value(Value::from(0.98));
        assert_eq!(judge(&v, "1", Some(0.05)), Verdict::Right);
        assert!(matches!(judge(&v, "1.1", Some(0.05)), Verdict::Wrong(_)));
        assert_eq!(
            judge(&Expected::Value(Value::from(64)), "0x40", None),
            Verdict::Right
        );
        assert_eq!(
            judge(&Expected::Value(Value::Bool(true)), "yes", None),
            Verdict::Right
        );
        assert!(matches!(
            judge(&Expected::Value(Value::Bool(true)), "maybe", None),
            Verdict::Wrong(_)
        ));
        assert_eq!(
            judge(
                &Expected::Value(Value::from("10.99.0.1")),
                "10.99.0.1",
                None
            ),
            Verdict::Right
        );

        let c = Expected::Choice {
            choices: vec!["TCP".into(), "Engine.IO".into(), "UDP".into()],
            right: 1,
        };
        assert_eq!(judge(&c, "b", None), Verdict::Right);
        assert_eq!(judge(&c, "B)", None), Verdict::Right);
        assert_eq!(judge(&c, "engine.io", None), Verdict::Right);
        assert!(matches!(judge(&c, "a", None), Verdict::Wrong(r) if r == "a) is not it"));
        assert!(matches!(judge(&c, "z", None), Verdict::Wrong(r) if r.contains("a to c")));
        assert_eq!(c.shown(), "b) Engine.IO");
    }
}
