//! Inputs of `meshfed_exported_service` refused at plan, each reported on the line of the refused
//! attribute: the configurations write one attribute (and one port attribute, list element) per
//! line and mark the refused one. Needs real Terraform and OpenTofu and a real control plane.

use crate::fixture::Planes;
use crate::support::refusal::{Place, assert_points_at, first_error, mark};
use crate::support::tf::Cli;

const ADDRESSES: &str = "  gateway = {\n    addresses = [\n      \"198.51.100.20\",\n    ]\n  }\n";
const PRINCIPALS: &str = "  allowed_principals = [\n    \"cluster-a.local/ns/abc/sa/foo\",\n  ]\n";

/// A port of a list of ports written one attribute per line.
fn port(name: &str, number: u32, protocol: &str) -> String {
    format!(
        "    {{\n      name     = \"{name}\"\n      number   = {number}\n      protocol = \"{protocol}\"\n    }},\n"
    )
}

/// The registry example's export written one attribute per line, with these ports, `gateway` and
/// `allowed_principals` text, and `extra` lines after `service`.
fn export(ports: &[String], gateway: &str, principals: &str, extra: &str) -> String {
    format!(
        "resource \"meshfed_exported_service\" \"bar\" {{\n  cluster   = \"cluster-b.local\"\n  namespace = \"xyz\"\n  service   = \"bar\"\n{extra}  ports = [\n{}  ]\n{gateway}{principals}}}\n",
        ports.concat()
    )
}

fn example() -> String {
    export(&[port("http", 8080, "HTTP")], ADDRESSES, PRINCIPALS, "")
}

/// The example with `from` replaced by `to` (which must change it).
fn replaced(from: &str, to: &str) -> String {
    let config = example().replace(from, to);
    assert_ne!(config, example(), "{from:?} is in the example");
    config
}

/// A configuration refused at plan: the summary of the error, and the configuration with the
/// refused attribute's line marked.
struct Refused {
    summary: &'static str,
    main: String,
    /// The path goes into an attribute's list of objects or object value (`ports`, `gateway`):
    /// OpenTofu shows the resource block.
    into_value: bool,
}

fn at(summary: &'static str, config: String, needle: &str, nth: usize) -> Refused {
    Refused {
        summary,
        main: mark(&config, needle, nth),
        into_value: false,
    }
}

fn inside(summary: &'static str, config: String, needle: &str, nth: usize) -> Refused {
    Refused {
        into_value: true,
        ..at(summary, config, needle, nth)
    }
}

/// Refused top-level attributes and list elements: both CLIs point at their line.
fn attribute_cases() -> Vec<Refused> {
    let alias = |alias: &str| {
        let line = format!("  alias     = \"{alias}\"\n");
        export(&[port("http", 8080, "HTTP")], ADDRESSES, PRINCIPALS, &line)
    };
    let spiffe = "  allowed_principals = [\n    \"spiffe://cluster-a.local/ns/abc/sa/foo\",\n  ]\n";
    vec![
        at(
            "Unknown cluster",
            replaced("cluster-b.local", "cluster-x.local"),
            "cluster   =",
            0,
        ),
        at(
            "Invalid namespace",
            replaced("\"xyz\"", "\"Not_Valid\""),
            "namespace =",
            0,
        ),
        at(
            "Invalid service name",
            replaced("\"bar\"\n", "\"Bar_x\"\n"),
            "service   =",
            0,
        ),
        at("Invalid alias", alias("*.global"), "alias", 0),
        at("Invalid alias", alias("bar_x.global"), "alias", 0),
        at(
            "Invalid principal",
            export(&[port("http", 8080, "HTTP")], ADDRESSES, spiffe, ""),
            "spiffe://",
            0,
        ),
    ]
}

/// Refused values inside `ports` (a list of objects) and `gateway` (an object).
fn value_cases() -> Vec<Refused> {
    let ports = |ports: &[String]| export(ports, ADDRESSES, PRINCIPALS, "");
    let gateway = |gateway: &str| export(&[port("http", 8080, "HTTP")], gateway, PRINCIPALS, "");
    vec![
        inside(
            "Invalid port number",
            ports(&[port("http", 70000, "HTTP")]),
            "number",
            0,
        ),
        // The second port repeats the first's name: the second is at fault.
        inside(
            "Duplicate port name",
            ports(&[port("http", 80, "HTTP"), port("http", 81, "HTTP")]),
            "name ",
            1,
        ),
        inside(
            "Unknown protocol",
            ports(&[port("http", 80, "SPDY")]),
            "protocol",
            0,
        ),
        inside(
            "Invalid gateway port",
            gateway("  gateway = {\n    port = 70000\n  }\n"),
            "port = 70000",
            0,
        ),
        inside(
            "Invalid gateway address",
            gateway("  gateway = {\n    addresses = [\n      \"not an address\",\n    ]\n  }\n"),
            "not an address",
            0,
        ),
    ]
}

#[test]
fn refused_inputs_are_reported_at_plan_on_their_attribute() {
    let mut cases = attribute_cases();
    cases.extend(value_cases());
    for cli in Cli::both() {
        let p = Planes::start(&[crate::fixture::B]);
        for case in &cases {
            let summary = case.summary;
            let dir = p.dir(cli, &case.main);
            let out = dir.run_code(1, &["plan", "-json"]);
            let d = first_error(cli, &out, summary);
            let place = Place::of(cli, case.into_value);
            assert_points_at(cli, summary, &d, "main.tf", &case.main, place);
        }
        assert!(p.gateway().is_none(), "{cli}: nothing created");
    }
}
