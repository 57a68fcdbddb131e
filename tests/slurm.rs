//! Slurm for real: a one-node Slurm cluster started here (munged,
//! slurmctld, slurmd; what docs/reference and /work/shared/reference/slurm.md
//! record it took on Debian's Slurm 22.05), `experiments/slurm-array.sh`
//! submitted with `sbatch` as a 3-task array (`--array=0-2`, so
//! `--shard auto` must map a 0-based array), waited for (bounded), the
//! shards merged with `tlbsim merge`, and the merged files compared with an
//! unsharded run.
//!
//! Needs root and Debian's `slurmctld slurmd slurm-client munge` (`.ci/run`
//! installs them). Under `CI=true` it must run; elsewhere, without them, it
//! is reported as ignored and the reason printed. Every daemon is started
//! by this test, in the foreground, with its files in a temporary folder
//! (the config reaches the clients through `SLURM_CONF`, never `/etc`), and
//! stopped by its PID.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TLBSIM: &str = env!("CARGO_BIN_EXE_tlbsim");
const TOOLS: &[&str] = &[
    "munged",
    "slurmctld",
    "slurmd",
    "sbatch",
    "sinfo",
    "setpriv",
];
const SIZE: &[&str] = &["--set", "stop.ios=200", "--set", "stop.warmup_ios=20"];
/// How long the cluster may take to come up, and the array to finish.
const UP: Duration = Duration::from_secs(60);
const DONE: Duration = Duration::from_secs(600);

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Why the test cannot run here, if it cannot.
fn missing() -> Option<String> {
    let absent: Vec<&str> = TOOLS.iter().copied().filter(|t| !on_path(t)).collect();
    if !absent.is_empty() {
        return Some(format!(
            "{} not installed (apt-get install slurmctld slurmd slurm-client munge)",
            absent.join(", ")
        ));
    }
    if output(Command::new("id").arg("-u")) != "0" {
        return Some("not root (slurmd and munged need it)".into());
    }
    None
}

/// The daemons this test started, stopped by PID when dropped.
struct Daemons(Vec<(&'static str, Child)>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for (_, child) in self.0.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(10) {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Daemons {
    fn start(&mut self, name: &'static str, cmd: &mut Command, log: &Path) {
        let child = cmd
            .stdout(std::fs::File::create(log).expect("daemon log"))
            .stderr(std::fs::File::create(log.with_extension("err")).expect("daemon log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.0.push((name, child));
    }

    /// Panics, with the daemons' logs, if one has exited.
    fn check_alive(&mut self, dir: &Path) {
        for (name, child) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{name} exited ({status}):\n{}", logs(dir));
            }
        }
    }
}

fn logs(dir: &Path) -> String {
    let mut text = String::new();
    for f in [
        "munged.log",
        "slurmctld.log",
        "slurmd.log",
        "slurmctld.err",
        "slurmd.err",
    ] {
        if let Ok(t) = std::fs::read_to_string(dir.join(f)) {
            let tail: Vec<&str> = t.lines().rev().take(15).collect();
            text += &format!(
                "--- {f}\n{}\n",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
    text
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn slurm_conf(dir: &Path, socket: &Path) -> String {
    let host = output(&mut Command::new("hostname"));
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let d = dir.display();
    format!(
        "ClusterName=tlbsim-test\nSlurmctldHost={host}\nSlurmUser=root\nSlurmdUser=root\n\
         AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket={socket}\n\
         ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
         JobAcctGatherType=jobacct_gather/none\nSelectType=select/cons_tres\n\
         SelectTypeParameters=CR_Core\nReturnToService=2\nMpiDefault=none\n\
         StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
         SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
         SlurmctldLogFile={d}/slurmctld.log\nSlurmdLogFile={d}/slurmd.log\n\
         NodeName={host} CPUs={cpus} RealMemory=2000 State=UNKNOWN\n\
         PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
        socket = socket.display()
    )
}

fn mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Starts munged, slurmctld and slurmd with their files under `dir`; returns
/// them once `sinfo` shows the node idle.
fn cluster(dir: &Path, conf: &Path) -> Daemons {
    let mut daemons = Daemons(Vec::new());
    mode(dir, 0o755);
    let munge = dir.join("munge");
    std::fs::create_dir(&munge).expect("munge dir");
    let key = munge.join("munge.key");
    output(Command::new("dd").args([
        "if=/dev/urandom",
        &format!("of={}", key.display()),
        "bs=1024",
        "count=1",
        "status=none",
    ]));
    mode(&key, 0o400);
    // munged needs its socket's folder searchable by all.
    mode(&munge, 0o755);
    output(Command::new("chown").args(["-R", "munge:munge", &munge.display().to_string()]));
    let socket = munge.join("munge.socket");
    daemons.start(
        "munged",
        Command::new("setpriv")
            .args([
                "--reuid=munge",
                "--regid=munge",
                "--clear-groups",
                "munged",
                "-F",
            ])
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
            .arg(format!("--log-file={}", munge.join("munged.log").display()))
            .arg(format!(
                "--seed-file={}",
                munge.join("munged.seed").display()
            )),
        &dir.join("munged.out"),
    );
    for sub in ["state", "spool"] {
        std::fs::create_dir(dir.join(sub)).expect("slurm dir");
    }
    write(conf, &slurm_conf(dir, &socket));
    // cgroup/v2 is fatal for slurmd on this hybrid-mounted machine, and
    // 22.05 has no `disabled` plugin (slurm.md).
    write(
        &conf.with_file_name("cgroup.conf"),
        "CgroupPlugin=cgroup/v1\nIgnoreSystemd=yes\n",
    );
    let started = Instant::now();
    while !socket.exists() {
        daemons.check_alive(dir);
        assert!(
            started.elapsed() < UP,
            "munged did not start:\n{}",
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    daemons.start(
        "slurmctld",
        Command::new("slurmctld").arg("-D").arg("-f").arg(conf),
        &dir.join("slurmctld.out"),
    );
    std::thread::sleep(Duration::from_secs(1));
    daemons.start(
        "slurmd",
        Command::new("slurmd").arg("-D").arg("-f").arg(conf),
        &dir.join("slurmd.out"),
    );
    loop {
        daemons.check_alive(dir);
        let state = Command::new("sinfo")
            .args(["-h", "-o", "%t"])
            .env("SLURM_CONF", conf)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        if state == "idle" {
            return daemons;
        }
        assert!(
            started.elapsed() < UP,
            "the node is not idle after {UP:?} (sinfo: {state:?}):\n{}",
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn same_outputs(a: &Path, b: &Path) {
    for f in ["sweep.csv", "sweep.json", "report.html", "plan.json"] {
        let (x, y) = (std::fs::read(a.join(f)), std::fs::read(b.join(f)));
        assert!(
            x.is_ok() && x.ok() == y.ok(),
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
    let plots = |d: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(d.join("plots"))
            .expect("plots")
            .map(|e| {
                let p = e.expect("entry").path();
                (
                    PathBuf::from(p.file_name().expect("name")),
                    std::fs::read(&p).expect("plot"),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(plots(a), plots(b), "plots differ");
}

fn array_equals_unsharded() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = work.path();
    let conf = dir.join("slurm.conf");
    let _daemons = cluster(dir, &conf);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/slurm-array.sh");
    let shards = dir.join("shards");
    let t = Instant::now();
    let mut sbatch = Command::new("sbatch")
        .args(["--wait", "--parsable", "--array=0-2"])
        .arg(format!("--output={}/slurm-%A_%a.out", dir.display()))
        .arg(format!("--chdir={}", dir.display()))
        .arg(&script)
        .args(SIZE)
        .env("SLURM_CONF", &conf)
        .env("SWEEP", "scaling")
        .env("OUT", &shards)
        .env("TLBSIM", TLBSIM)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sbatch");
    let status = loop {
        if let Some(s) = sbatch.try_wait().expect("sbatch wait") {
            break s;
        }
        if t.elapsed() > DONE {
            let _ = sbatch.kill();
            panic!("the array did not finish in {DONE:?}:\n{}", logs(dir));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = sbatch.wait_with_output().expect("sbatch output");
    let job_logs: String = (0..3)
        .filter_map(|i| {
            let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
            std::fs::read_to_string(dir.join(format!("slurm-{id}_{i}.out"))).ok()
        })
        .collect();
    assert!(
        status.success(),
        "sbatch --wait: {status}\n{}\n{job_logs}\n{}",
        String::from_utf8_lossy(&out.stderr),
        logs(dir)
    );
    eprintln!(
        "slurm: 3-task array done in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut parts: Vec<PathBuf> = (0..3).map(|i| shards.join(format!("shard-{i}"))).collect();
    parts.sort();
    for p in &parts {
        assert!(
            p.join("plan.json").is_file(),
            "no shard output in {}:\n{job_logs}",
            p.display()
        );
    }
    let merged = dir.join("merged");
    output(
        Command::new(TLBSIM)
            .arg("merge")
            .args(&parts)
            .arg("--out")
            .arg(&merged),
    );
    let full = dir.join("full");
    output(
        Command::new(TLBSIM)
            .args(["sweep", "scaling"])
            .args(SIZE)
            .arg("--out")
            .arg(&full),
    );
    same_outputs(&merged, &full);
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    let absent = missing();
    if let (Some(why), false) = (&absent, ci) {
        eprintln!("slurm: ignored: {why}; CI=true requires it");
    }
    let trial = libtest_mimic::Trial::test("slurm_array_merged_equals_unsharded", || {
        if let Some(why) = missing() {
            return Err(format!("cannot run: {why}").into());
        }
        array_equals_unsharded();
        Ok(())
    })
    .with_ignored_flag(absent.is_some() && !ci);
    libtest_mimic::run(&args, vec![trial]).exit();
}
