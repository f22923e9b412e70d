//! The demo command as a user runs it: a real process, stopped with Ctrl-C while everything is running.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Parent of each process, from `/proc/*/stat`.
fn parents() -> HashMap<u32, u32> {
    let mut parents = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses, so read after the last ')'.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
        if let Some(ppid) = ppid {
            parents.insert(pid, ppid);
        }
    }
    parents
}

/// Every process below `root`.
fn descendants(root: u32) -> HashSet<u32> {
    let parents = parents();
    let mut found = HashSet::new();
    let mut frontier = vec![root];
    while let Some(pid) = frontier.pop() {
        for (&child, _) in parents.iter().filter(|&(_, &p)| p == pid) {
            if found.insert(child) {
                frontier.push(child);
            }
        }
    }
    found
}

/// Whether `pid` still runs (a zombie waiting to be reaped does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

#[test]
#[cfg(target_os = "linux")]
fn ctrl_c_stops_every_process_the_demo_started() {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--tracing", "off", "--keep-running"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the demo starts");
    let (lines, received) = mpsc::channel();
    let stdout = demo.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(600); // a first run builds and installs moto
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("running until Ctrl-C")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("the demo did not get ready: {seen:#?}, exit {:?}", demo.try_wait()),
        }
    }
    assert!(seen.iter().any(|l| l.contains("-> 201")), "{seen:#?}");

    // moto, the daemon, the emulators and the functions they started.
    let started = descendants(demo.id());
    assert!(started.len() >= 6, "{started:?}");
    let status = Command::new("kill").args(["-INT", &demo.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = demo.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "the demo did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(130));
    let deadline = Instant::now() + Duration::from_secs(5);
    while started.iter().any(|&pid| alive(pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = started.into_iter().filter(|&pid| alive(pid)).collect();
    assert!(left.is_empty(), "still running after the demo stopped: {left:?}");
}
