//! `guests.N.trace`: relative to the file that set it, checked to exist,
//! hashed by content.

use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

const TRACE: &str = "time_ns,guest,queue,op,offset,size\n0,0,0,R,0,4096\n";

fn guest(trace: &str) -> String {
    format!(
        "[stop]\nios = 0\nwarmup_ios = 0\n\n[[guests]]\npattern = \"trace\"\ntrace = \"{trace}\"\n"
    )
}

#[test]
fn relative_paths_follow_the_file_that_set_them() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "base/t.csv", TRACE);
    let base = write(dir.path(), "base/base.toml", &guest("t.csv"));
    let child = write(
        dir.path(),
        "other/child.toml",
        "extends = \"../base/base.toml\"\n[machine]\ncpus = 4\n",
    );
    let want = std::path::absolute(dir.path().join("base/t.csv")).unwrap();
    for p in [&base, &child] {
        let s = scenarios::load(p.to_str().unwrap(), &[]).unwrap();
        assert_eq!(Path::new(&s.config.guests[0].trace), want);
    }
}

#[test]
fn a_missing_trace_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", &guest("nope.csv"));
    let e = scenarios::load(p.to_str().unwrap(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "{}:7: guests.0.trace: no trace file ",
            p.display()
        )),
        "{e}"
    );
}

#[test]
fn the_hash_covers_the_content_not_the_path() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a/t.csv", TRACE);
    write(dir.path(), "b/t.csv", TRACE);
    let a = write(dir.path(), "a/s.toml", &guest("t.csv"));
    let b = write(dir.path(), "b/s.toml", &guest("t.csv"));
    let ha = scenarios::load(a.to_str().unwrap(), &[]).unwrap().hash;
    let hb = scenarios::load(b.to_str().unwrap(), &[]).unwrap().hash;
    assert_eq!(ha, hb);
    write(dir.path(), "b/t.csv", &format!("{TRACE}1,0,0,W,0,4096\n"));
    let hb2 = scenarios::load(b.to_str().unwrap(), &[]).unwrap().hash;
    assert_ne!(ha, hb2);
}

#[test]
fn bundled_traces_live_in_the_repository_traces_folder() {
    let s = scenarios::load("fio-replay", &[]).unwrap();
    // Kept relative to the repository, so outputs name no checkout folder.
    assert_eq!(s.config.guests[0].trace, "repo:traces/fio-randrw.iolog");
    assert!(!scenarios::to_toml(&s).contains(env!("CARGO_MANIFEST_DIR")));
    let p = scenarios::trace_file(&s.config.guests[0].trace);
    assert!(p.is_absolute() && p.is_file(), "{}", p.display());
    assert!(p.ends_with("traces/fio-randrw.iolog"));
    assert!(!p.to_string_lossy().contains(".."));
    // The resolved scenario loads again from anywhere, to the same hash.
    let dir = tempfile::tempdir().unwrap();
    let again = write(dir.path(), "s.toml", &scenarios::to_toml(&s));
    let t = scenarios::load(again.to_str().unwrap(), &[]).unwrap();
    assert_eq!(t.hash, s.hash);
}
