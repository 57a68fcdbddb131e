// tlbpat: the two buffer-mapping patterns of tlbsim, performed by Linux
// itself, with what the kernel really did counted.
//
//   tlbpat --pattern global|percpu|ipi --workers N [--ops M] [--pages K]
//          [--slots S] [--baseline-ms B]
//
// global  one process, N threads pinned to CPUs 0..N-1; each op maps K pages
//         of a shared memfd (mmap), writes one byte per page, unmaps them
//         (munmap): the kernel must shoot down every other CPU that runs
//         this mm.
// percpu  N processes (fork), one pinned per CPU; each reserves a window of S
//         slots of K pages once, and each op remaps the next slot onto the
//         memfd with MAP_FIXED (replacing the previous mapping there) and
//         writes one byte per page: one mm per CPU, so flushes stay local.
// ipi     calibration: worker 0 calls membarrier(PRIVATE_EXPEDITED) in a
//         loop while workers 1..N-1 spin in user space in the same process:
//         with N=2 each call is one IPI round trip to one CPU (minus the
//         N=1 time, the syscall alone).
//
// Counted over the measured window, per CPU: shootdown IPIs received (the
// TLB row of /proc/interrupts) and tlb:tlb_flush tracepoint events by
// reason (perf_event_open on the tracepoint, system wide, one filtered
// counter per reason and CPU). The machine is shared, so the same counters
// are first read over an idle window (--baseline-ms) and reported as a
// rate for subtraction. Also reports the workers' voluntary context switches
// per op (getrusage): a worker that blocks (on mmap_lock) sleeps, and its
// CPU goes lazy-TLB. Prints one JSON object.
//
// Needs root (system-wide tracepoint counting) and tracefs for the
// tracepoint id; without them it still runs and reports counters as null.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXCPU 256
#define NREASON 6
static const char *reason_name[NREASON] = {
    "task_switch", "remote_shootdown", "local_shootdown",
    "local_mm_shootdown", "remote_ipi_send", "remote_wrong_cpu"};

static long page_size;
static int ncpu;
static const char *pattern = "global";
static int workers = 2, pages = 1, slots = 64;
static long ops = 100000;
static int baseline_ms = 300;
static int memfd;
static long pool_pages = 1024;

struct shared {
  pthread_barrier_t start;
  volatile int stop;
  int64_t t0[MAXCPU], t1[MAXCPU];
  double median_batch_ns;  // ipi: median of 20 batches, per call
};
static struct shared *sh;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "tlbpat: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  if (sched_setaffinity(0, sizeof s, &s)) die("sched_setaffinity");
}

// ---- counters --------------------------------------------------------------
static int read_irq_row(const char *row, long long *out) {
  FILE *f = fopen("/proc/interrupts", "r");
  if (!f) return -1;
  char line[8192];
  int found = -1;
  while (fgets(line, sizeof line, f)) {
    char *p = line;
    while (*p == ' ') p++;
    size_t n = strlen(row);
    if (strncmp(p, row, n)) continue;
    p += n;
    for (int c = 0; c < ncpu; c++) out[c] = strtoll(p, &p, 10);
    found = 0;
  }
  fclose(f);
  return found;
}

static int tp_id = -1;
static int fds[NREASON][MAXCPU];

static void open_tracepoint(void) {
  const char *paths[] = {"/sys/kernel/tracing/events/tlb/tlb_flush/id",
                         "/sys/kernel/debug/tracing/events/tlb/tlb_flush/id"};
  for (int i = 0; i < 2 && tp_id < 0; i++) {
    FILE *f = fopen(paths[i], "r");
    if (f) {
      if (fscanf(f, "%d", &tp_id) != 1) tp_id = -1;
      fclose(f);
    }
  }
  for (int r = 0; r < NREASON; r++)
    for (int c = 0; c < ncpu; c++) fds[r][c] = -1;
  if (tp_id < 0) return;
  for (int r = 0; r < NREASON; r++)
    for (int c = 0; c < ncpu; c++) {
      struct perf_event_attr a;
      memset(&a, 0, sizeof a);
      a.type = PERF_TYPE_TRACEPOINT;
      a.size = sizeof a;
      a.config = tp_id;
      a.disabled = 1;
      int fd = syscall(SYS_perf_event_open, &a, -1, c, -1, 0);
      if (fd < 0) {
        tp_id = -2;
        return;
      }
      char filt[32];
      snprintf(filt, sizeof filt, "reason==%d", r);
      if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filt)) {
        tp_id = -3;
        return;
      }
      fds[r][c] = fd;
    }
}

struct snap {
  long long tlb[MAXCPU], cal[MAXCPU];
  long long flush[NREASON][MAXCPU];
  int64_t t;
};

static void counters(int on) {
  if (tp_id < 0) return;
  for (int r = 0; r < NREASON; r++)
    for (int c = 0; c < ncpu; c++)
      ioctl(fds[r][c], on ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE, 0);
}

static void take(struct snap *s) {
  memset(s, 0, sizeof *s);
  read_irq_row("TLB:", s->tlb);
  read_irq_row("CAL:", s->cal);
  if (tp_id >= 0)
    for (int r = 0; r < NREASON; r++)
      for (int c = 0; c < ncpu; c++) {
        uint64_t v = 0;
        if (read(fds[r][c], &v, sizeof v) != sizeof v) v = 0;
        s->flush[r][c] = (long long)v;
      }
  s->t = now_ns();
}

static void print_delta(const char *name, struct snap *a, struct snap *b) {
  printf("\"%s\": {\"ns\": %lld, \"tlb_ipis\": [", name, (long long)(b->t - a->t));
  for (int c = 0; c < ncpu; c++) printf("%s%lld", c ? ", " : "", b->tlb[c] - a->tlb[c]);
  printf("], \"call_ipis\": [");
  for (int c = 0; c < ncpu; c++) printf("%s%lld", c ? ", " : "", b->cal[c] - a->cal[c]);
  printf("], \"flushes\": ");
  if (tp_id < 0) {
    printf("null}");
    return;
  }
  printf("{");
  for (int r = 0; r < NREASON; r++) {
    printf("%s\"%s\": [", r ? ", " : "", reason_name[r]);
    for (int c = 0; c < ncpu; c++)
      printf("%s%lld", c ? ", " : "", b->flush[r][c] - a->flush[r][c]);
    printf("]");
  }
  printf("}}");
}

// ---- the patterns ----------------------------------------------------------
static void touch(volatile char *p, int n) {
  for (int i = 0; i < n; i++) p[(long)i * page_size] += 1;
}

static void *global_worker(void *arg) {
  int w = (int)(intptr_t)arg;
  pin(w);
  size_t len = (size_t)pages * page_size;
  long per = ops / workers;
  pthread_barrier_wait(&sh->start);
  sh->t0[w] = now_ns();
  for (long i = 0; i < per; i++) {
    off_t off = ((w * 7919L + i) * pages % (pool_pages - pages)) * page_size;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, off);
    if (p == MAP_FAILED) die("mmap");
    touch(p, pages);
    if (munmap(p, len)) die("munmap");
  }
  sh->t1[w] = now_ns();
  return NULL;
}

static void percpu_worker(int w) {
  pin(w);
  size_t len = (size_t)pages * page_size;
  char *win = mmap(NULL, len * slots, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (win == MAP_FAILED) die("mmap window");
  // Fill every slot once, so every measured op replaces a populated mapping.
  for (int s = 0; s < slots; s++) {
    char *p = mmap(win + s * len, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd, 0);
    if (p == MAP_FAILED) die("mmap slot");
    touch(p, pages);
  }
  long per = ops / workers;
  pthread_barrier_wait(&sh->start);
  sh->t0[w] = now_ns();
  for (long i = 0; i < per; i++) {
    off_t off = ((w * 7919L + i) * pages % (pool_pages - pages)) * page_size;
    char *slot = win + (i % slots) * len;
    char *p = mmap(slot, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd, off);
    if (p == MAP_FAILED) die("mmap fixed");
    touch(p, pages);
  }
  sh->t1[w] = now_ns();
}

static void *spinner(void *arg) {
  int w = (int)(intptr_t)arg;
  pin(w);
  pthread_barrier_wait(&sh->start);
  while (!sh->stop) __asm__ volatile("pause");
  return NULL;
}

static void ipi_caller(void) {
  pin(0);
  pthread_barrier_wait(&sh->start);
  sh->t0[0] = now_ns();
  // 20 batches; their median is robust to other load on a shared machine
  // (a preempted target is skipped by membarrier and makes a batch too
  // fast, a preempted caller makes it too slow).
  long per = ops / 20;
  double d[20];
  for (int b = 0; b < 20; b++) {
    int64_t s0 = now_ns();
    for (long i = 0; i < per; i++)
      if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)) die("membarrier");
    d[b] = (double)(now_ns() - s0) / per;
  }
  for (int i = 1; i < 20; i++)  // insertion sort
    for (int j = i; j > 0 && d[j] < d[j - 1]; j--) {
      double t = d[j];
      d[j] = d[j - 1];
      d[j - 1] = t;
    }
  sh->median_batch_ns = (d[9] + d[10]) / 2;
  sh->t1[0] = now_ns();
  sh->stop = 1;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--pattern") && v) pattern = v, i++;
    else if (!strcmp(a, "--workers") && v) workers = atoi(v), i++;
    else if (!strcmp(a, "--ops") && v) ops = atol(v), i++;
    else if (!strcmp(a, "--pages") && v) pages = atoi(v), i++;
    else if (!strcmp(a, "--slots") && v) slots = atoi(v), i++;
    else if (!strcmp(a, "--baseline-ms") && v) baseline_ms = atoi(v), i++;
    else {
      fprintf(stderr, "usage: tlbpat --pattern global|percpu|ipi --workers N [--ops M] [--pages K] [--slots S] [--baseline-ms B]\n");
      return 2;
    }
  }
  page_size = sysconf(_SC_PAGESIZE);
  ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu > MAXCPU) ncpu = MAXCPU;
  if (workers < 1 || workers > ncpu) {
    fprintf(stderr, "tlbpat: --workers must be 1..%d (CPUs online)\n", ncpu);
    return 2;
  }
  memfd = memfd_create("tlbpat", 0);
  if (memfd < 0) die("memfd_create");
  if (ftruncate(memfd, pool_pages * page_size)) die("ftruncate");
  {  // populate the page cache: measured faults are minor faults
    char *p = mmap(NULL, pool_pages * page_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (p == MAP_FAILED) die("mmap pool");
    memset(p, 1, pool_pages * page_size);
    munmap(p, pool_pages * page_size);
  }
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) die("mmap shared");
  pthread_barrierattr_t ba;
  pthread_barrierattr_init(&ba);
  pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
  int parties = workers + 1;
  pthread_barrier_init(&sh->start, &ba, parties);

  open_tracepoint();
  struct snap b0, b1, r0, r1;
  counters(1);
  take(&b0);
  usleep(baseline_ms * 1000);
  take(&b1);

  pthread_t th[MAXCPU];
  pid_t kids[MAXCPU];
  if (!strcmp(pattern, "global")) {
    for (int w = 0; w < workers; w++)
      pthread_create(&th[w], NULL, global_worker, (void *)(intptr_t)w);
  } else if (!strcmp(pattern, "percpu")) {
    for (int w = 0; w < workers; w++) {
      kids[w] = fork();
      if (kids[w] < 0) die("fork");
      if (!kids[w]) {
        percpu_worker(w);
        _exit(0);
      }
    }
  } else if (!strcmp(pattern, "ipi")) {
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0))
      die("membarrier register");
    for (int w = 1; w < workers; w++)
      pthread_create(&th[w], NULL, spinner, (void *)(intptr_t)w);
    pthread_create(&th[0], NULL, (void *(*)(void *))ipi_caller, NULL);
  } else {
    fprintf(stderr, "tlbpat: unknown pattern %s\n", pattern);
    return 2;
  }
  struct rusage u0, u1;
  int who = !strcmp(pattern, "percpu") ? RUSAGE_CHILDREN : RUSAGE_SELF;
  getrusage(who, &u0);
  take(&r0);
  pthread_barrier_wait(&sh->start);
  if (!strcmp(pattern, "percpu")) {
    for (int w = 0; w < workers; w++) waitpid(kids[w], NULL, 0);
  } else {
    for (int w = 0; w < workers; w++) pthread_join(th[w], NULL);
  }
  take(&r1);
  counters(0);
  getrusage(who, &u1);

  int timed = !strcmp(pattern, "ipi") ? 1 : workers;
  int64_t t0 = sh->t0[0], t1 = sh->t1[0];
  for (int w = 1; w < timed; w++) {
    if (sh->t0[w] < t0) t0 = sh->t0[w];
    if (sh->t1[w] > t1) t1 = sh->t1[w];
  }
  long total = !strcmp(pattern, "ipi") ? ops : ops / workers * workers;
  double el = (double)(t1 - t0);
  printf("{\"pattern\": \"%s\", \"workers\": %d, \"pages\": %d, \"ops\": %ld, \"cpus\": %d, ",
         pattern, workers, pages, total, ncpu);
  printf("\"elapsed_ns\": %.0f, \"ops_per_s\": %.1f, \"ns_per_op_per_worker\": %.1f, ", el,
         total / el * 1e9, el * timed / total);
  printf("\"tracepoint\": %s, ", tp_id >= 0 ? "true" : "false");
  if (!strcmp(pattern, "ipi")) printf("\"median_batch_ns_per_op\": %.1f, ", sh->median_batch_ns);
  printf("\"voluntary_switches_per_op\": %.4f, \"involuntary_switches_per_op\": %.4f, ",
         (double)(u1.ru_nvcsw - u0.ru_nvcsw) / total, (double)(u1.ru_nivcsw - u0.ru_nivcsw) / total);
  print_delta("baseline", &b0, &b1);
  printf(", ");
  print_delta("run", &r0, &r1);
  printf("}\n");
  return 0;
}
