//! Property tests of the grant matchers: whatever a plugin sends, a grant allows exactly what
//! its documented rules say, and nothing panics.

use super::commands::{args_match, CommandGrant};
use super::dirs::{locate, valid_guest_path, Access, DirGrant};
use super::env::forbidden;
use super::hosts::HostGrant;
use proptest::prelude::*;
use std::path::{Component, PathBuf};

/// Arguments as a hostile plugin might send them: shell metacharacters, globs, NULs, `..`.
fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_.=-]{0,12}",
        "[ -~]{0,16}",
        Just("**".to_string()),
        Just("*".to_string()),
        Just("; rm -rf /".to_string()),
        Just("$(id)".to_string()),
        Just("../..".to_string()),
        Just("a\0b".to_string()),
    ]
}

fn literal() -> impl Strategy<Value = String> {
    "[a-z0-9_.=-]{1,12}"
}

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}"
}

proptest! {
    #[test]
    fn literal_patterns_allow_exactly_their_own_argv(
        pattern in prop::collection::vec(literal(), 0..5),
        args in prop::collection::vec(arg(), 0..5),
        same in any::<bool>(),
    ) {
        let args = if same { pattern.clone() } else { args };
        prop_assert_eq!(args_match(&pattern, &args), pattern == args);
    }

    #[test]
    fn a_trailing_double_star_allows_any_rest_and_only_that(
        head in prop::collection::vec(literal(), 0..3),
        args in prop::collection::vec(arg(), 0..6),
    ) {
        let mut pattern = head.clone();
        pattern.push("**".into());
        let expected = args.len() >= head.len() && args[..head.len()] == head[..];
        prop_assert_eq!(args_match(&pattern, &args), expected);
    }

    #[test]
    fn a_star_is_exactly_one_argument(args in prop::collection::vec(arg(), 0..4)) {
        prop_assert_eq!(args_match(&["*".to_string()], &args), args.len() == 1);
    }

    #[test]
    fn a_prefix_pattern_matches_by_prefix_only(prefix in literal(), a in arg()) {
        let pattern = vec![format!("{prefix}*")];
        prop_assert_eq!(args_match(&pattern, std::slice::from_ref(&a)), a.starts_with(&prefix));
    }

    #[test]
    fn the_program_must_be_the_granted_one(program in "[a-z/._-]{1,20}", other in "[a-z/._-]{1,20}") {
        let g = CommandGrant { program: program.clone(), args: vec!["**".into()], roots: vec![] };
        prop_assert_eq!(g.allows(&other, &[]), program == other);
    }

    #[test]
    fn an_exact_host_grant_allows_that_host_only(
        a in label(), b in label(), tail in label(), evil in label(),
    ) {
        let host = format!("{a}.{b}");
        let g = HostGrant::parse(&format!("https://{host}")).unwrap();
        prop_assert!(g.allows("https", &host, None));
        prop_assert!(g.allows("HTTPS", &host.to_ascii_uppercase(), Some(443)));
        let dotted = format!("{host}.");
        prop_assert!(g.allows("https", &dotted, None));
        prop_assert!(!g.allows("http", &host, None));
        prop_assert!(!g.allows("https", &host, Some(8443)));
        let suffix_attack = format!("{host}.{tail}.com");
        let prefix_attack = format!("{evil}{host}");
        let sub = format!("{evil}.{host}");
        prop_assert!(!g.allows("https", &suffix_attack, None));
        prop_assert!(!g.allows("https", &prefix_attack, None));
        prop_assert!(!g.allows("https", &sub, None));
    }

    #[test]
    fn a_wildcard_covers_subdomains_but_not_the_domain_or_lookalikes(
        a in label(), b in label(), sub in label(), evil in label(),
    ) {
        let domain = format!("{a}.{b}");
        let g = HostGrant::parse(&format!("https://*.{domain}")).unwrap();
        let subdomain = format!("{sub}.{domain}");
        let lookalike = format!("{evil}{domain}");
        let suffixed = format!("{sub}.{domain}.{evil}");
        prop_assert!(g.allows("https", &subdomain, None));
        prop_assert!(!g.allows("https", &domain, None));
        prop_assert!(!g.allows("https", &lookalike, None));
        prop_assert!(!g.allows("https", &suffixed, None));
    }

    #[test]
    fn host_grants_never_panic_and_refuse_bare_wildcards(text in "[ -~]{0,40}") {
        if let Ok(g) = HostGrant::parse(&text) {
            // Whatever parsed allows no request without a host.
            prop_assert!(!g.allows("https", "", None));
        }
        prop_assert!(HostGrant::parse("*").is_err());
    }

    #[test]
    fn guest_paths_never_resolve_outside_their_grant(
        parts in prop::collection::vec(prop_oneof![Just("..".to_string()), Just(".".to_string()), Just("".to_string()), "[a-z]{1,6}"], 0..6),
    ) {
        let guest = format!("/project/{}", parts.join("/"));
        let grants = [DirGrant { host: PathBuf::from("/srv/app"), guest: "/project".into(), access: Access::ReadOnly }];
        match locate("p", &grants, &guest) {
            Ok((g, rest)) => {
                prop_assert!(valid_guest_path(&guest));
                prop_assert_eq!(&g.guest, "/project");
                prop_assert!(rest.components().all(|c| matches!(c, Component::Normal(_))), "{:?}", rest);
            }
            Err(_) => prop_assert!(!valid_guest_path(&guest) || parts.is_empty()),
        }
    }

    #[test]
    fn loader_variables_can_never_be_granted(suffix in "[A-Z_]{0,12}") {
        let ld_preload = format!("LD_{suffix}");
        let dyld = format!("DYLD_{suffix}");
        prop_assert!(forbidden(&ld_preload).is_some());
        prop_assert!(forbidden(&dyld).is_some());
    }
}
