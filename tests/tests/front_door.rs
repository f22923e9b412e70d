//! Regression (issue 18, points 5 and 6): the README had grown into a 571-line manual whose Install line named a
//! crates.io crate that is not ours and left out the `sqs` and `sns` features, and docs.rs would have shown none of
//! the feature-gated items. What a new user reads first, checked against the manifests it describes.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The lines of the README section headed `## {title}`, up to the next `## ` heading.
fn section<'a>(readme: &'a str, title: &str) -> Vec<&'a str> {
    let heading = format!("## {title}");
    let mut lines = readme.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "the README has no `{heading}` section");
    lines.take_while(|l| !l.starts_with("## ")).collect()
}

/// The value of `key = "..."` in the `[section]` of a manifest.
fn manifest_value(manifest: &str, section: &str, key: &str) -> Option<String> {
    let header = format!("[{section}]");
    let mut lines = manifest.lines().skip_while(|l| l.trim() != header).skip(1);
    let line =
        lines.by_ref().take_while(|l| !l.starts_with('[')).find(|l| l.split('=').next().map(str::trim) == Some(key))?;
    Some(line.split_once('=')?.1.trim().trim_matches('"').to_owned())
}

/// The feature names a manifest declares, `default` aside.
fn features(manifest: &str) -> Vec<String> {
    let mut lines = manifest.lines().skip_while(|l| l.trim() != "[features]").skip(1);
    let names = lines.by_ref().take_while(|l| !l.starts_with('[')).filter(|l| !l.starts_with('#') && l.contains('='));
    names.map(|l| l.split('=').next().unwrap_or_default().trim().to_owned()).filter(|f| f != "default").collect()
}

#[test]
fn the_readme_is_short_and_shows_library_code_first() {
    let readme = read("README.md");
    let lines: Vec<&str> = readme.lines().collect();
    assert!(
        lines.len() <= 250,
        "README.md has {} lines; the manual belongs in rustdoc and the crates' READMEs",
        lines.len()
    );
    let first_code = lines.iter().position(|l| l.starts_with("```rust")).expect("a Rust example");
    assert!(first_code < 60, "the first Rust example starts on line {}", first_code + 1);
    let example: Vec<&str> = lines[first_code + 1..].iter().take_while(|l| !l.starts_with("```")).copied().collect();
    assert!(example.len() <= 30, "the basic handler is {} lines", example.len());
    assert!(example.iter().any(|l| l.contains("#[traced_handler]")) && example.iter().any(|l| l.contains("fn main")));

    // The crates' own READMEs hold what moved out, and the README links to them.
    for moved in ["demo/README.md", "xray-local/README.md"] {
        assert!(root().join(moved).is_file(), "{moved}");
        assert!(readme.contains(&format!("]({moved}")), "README.md does not link to {moved}");
    }
}

#[test]
fn the_quick_start_is_two_commands_and_ci_runs_the_second() {
    let readme = read("README.md");
    let quick_start = section(&readme, "Quick start");
    let blocks = quick_start.iter().filter(|l| l.starts_with("```sh")).count();
    assert_eq!(blocks, 1, "one sh block");
    let commands: Vec<&str> = quick_start
        .iter()
        .skip_while(|l| !l.starts_with("```sh"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .copied()
        .collect();
    assert_eq!(commands, ["cargo run -p demo", "cargo test --workspace"]);
    assert!(read(".ci/run").lines().any(|l| l.contains(commands[1]) && !l.trim_start().starts_with('#')));
}

#[test]
fn install_names_the_published_package_every_feature_and_what_each_needs() {
    let readme = read("README.md");
    let install = section(&readme, "Install").join("\n");
    let manifest = read("xray-core/Cargo.toml");
    let package = manifest_value(&manifest, "package", "name").expect("a package name");
    assert!(install.contains(&format!("\n{package} = {{ version = ")), "the dependency line names `{package}`");
    for feature in features(&manifest) {
        assert!(install.contains(&format!("| `{feature}` |")), "Install does not list the feature `{feature}`");
    }
    for needed in ["lambda_runtime = \"1.5\"", "concurrency-tokio", "aws_lambda_events = { version = \"1.2\""] {
        assert!(install.contains(needed), "Install does not say `{needed}`");
    }
}

#[test]
fn docs_rs_builds_every_feature_and_badges_each_gated_item() {
    let manifest = read("xray-core/Cargo.toml");
    assert_eq!(manifest_value(&manifest, "package.metadata.docs.rs", "all-features").as_deref(), Some("true"));
    assert!(read("xray-core/src/lib.rs").contains("#![cfg_attr(docsrs, feature(doc_cfg))]"));

    // Every public item behind a feature says so on docs.rs: `#[cfg(feature ..)]` is followed by its badge.
    let mut unbadged = Vec::new();
    let mut stack = vec![root().join("xray-core/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                // The macros' glue is hidden from the docs.
                if !path.ends_with("private") {
                    stack.push(path);
                }
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            for (i, line) in lines.iter().enumerate() {
                if !(line.starts_with("#[cfg(feature") || line.starts_with("#[cfg(all(feature")) {
                    continue;
                }
                // The attributes and docs between the `cfg` and the item it gates, then the item.
                let between: Vec<&str> = lines[i + 1..]
                    .iter()
                    .take_while(|l| l.starts_with("#[") || l.starts_with("///"))
                    .copied()
                    .collect();
                let item = lines.get(i + 1 + between.len()).copied().unwrap_or_default();
                let badged = between.iter().any(|l| l.starts_with("#[cfg_attr(docsrs, doc(cfg("));
                if item.starts_with("pub ") && !badged {
                    unbadged.push(format!("{}:{}", path.display(), i + 1));
                }
            }
        }
    }
    assert!(unbadged.is_empty(), "gated public items without `#[cfg_attr(docsrs, doc(cfg(..)))]`: {unbadged:#?}");
}
