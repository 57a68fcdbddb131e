// kvm_ipi: measures, on the machine it runs on, what one guest ICR write
// (an x2APIC IPI send) costs the *sender* in KVM's host, per destination
// vCPU, when the destinations are halted (blocked) or running.
//
// Why: tlbsim's KVM presets lacked the serial per-target work that KVM does
// in the sending vCPU's host thread: kvm_x2apic_icr_write ->
// kvm_irq_delivery_to_apic loops over the destinations, and for each one
// kvm_apic_set_irq -> kvm_vcpu_kick, which for a halted vCPU is
// rcuwait_wake_up -> try_to_wake_up (see virt/kvm/kvm_main.c,
// arch/x86/kvm/lapic.c). This program measures that cost; tlbsim's
// `costs.ipi_send_halted_target_cycles` (kvm-guest preset) is set from its
// output (summarize.py's "Each run's own slope", kvm shorthand pin=1 all T).
//
// The VM: one sender (vCPU 0) and T targets, an in-kernel irqchip
// (KVM_CREATE_IRQCHIP), CPUID from KVM_GET_SUPPORTED_CPUID (x2APIC bit),
// every vCPU in real mode with CS=DS=SS=0. Every vCPU enables x2APIC
// (IA32_APIC_BASE bits 10|11) and software-enables its APIC (SVR MSR 0x80F).
// Targets count themselves ready, then `sti; hlt` in a loop (or spin with
// interrupts on, `--running`); the handler for vector 0x40 bumps a shared
// counter (`lock incl`) and writes EOI (MSR 0x80B). The sender, with
// interrupts off, waits for all targets, then per iteration: waits `gap`
// cycles (so targets are halted and, with halt polling off, blocked),
// rdtsc; sends; rdtsc (= send cycles: the ICR write exits and KVM's
// delivery loop); spins until the counter shows every target's handler ran;
// rdtsc (= ack cycles). It reports both through port I/O exits.
//
// Modes (--mode):
//   shorthand  one ICR write, all-excluding-self (x2APIC shorthand 11b)
//   unicast    one ICR write per target, physical destination
//   cluster    one ICR write per x2APIC logical cluster (16 CPUs each)
//   self       T ICR writes to the sender itself (physical destination 0,
//              interrupts off, so nothing is taken): the exit baseline per
//              write with no other vCPU kicked
//   none       no ICR write: the rdtsc pair's own cost
//
// --pin puts the sender's vCPU thread on host CPU 0 and every target's on
// CPU 1 (so a woken target never preempts the sender, as on a machine with
// a physical CPU per vCPU); without it the host scheduler places them.
//
// Build and run: benches/kvm_ipi/run.sh. Not part of the cargo workspace.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define MEM_BYTES (1u << 20)
#define CODE_ADDR 0x1000u
#define P_TARGETS 0x6000u  // u32: number of targets T
#define P_MODE 0x6004u     // u32: 0 shorthand, 1 unicast, 2 cluster, 3 self
#define P_ITERS 0x6008u    // u32: iterations
#define P_GAP 0x600Cu      // u32: cycles between sends
#define P_SPIN 0x6010u     // u32: 1 = targets spin (running), 0 = hlt
#define P_NCLUST 0x60FCu   // u32: number of cluster ICR writes
#define P_CLUST 0x6100u    // u32[]: x2APIC logical destinations
#define C_ACKS 0x7000u     // u32: handler count
#define C_READY 0x7004u    // u32: ready targets
#define STACKS 0x8000u     // 256 bytes per vCPU
#define PORT_SEND 0x10
#define PORT_ACK 0x11
#define PORT_DONE 0x12
#define VECTOR 0x40

// Guest code, real mode, loaded at CODE_ADDR with CS=0. %esi = vCPU id.
extern const uint8_t guest_start[], guest_handler[], guest_end[];
__asm__(".pushsection .rodata\n"
        ".code16\n"
        "guest_start:\n"
        "  mov $0x1B, %ecx\n"
        "  rdmsr\n"
        "  or $0xC00, %eax\n"  // x2APIC enable | xAPIC global enable
        "  wrmsr\n"
        "  mov $0x80F, %ecx\n"
        "  mov $0x1FF, %eax\n"  // SVR: software enable, spurious 0xFF
        "  xor %edx, %edx\n"
        "  wrmsr\n"
        "  test %esi, %esi\n"
        "  jz 5f\n"
        // target
        "  lock incl 0x7004\n"
        "  cmpl $0, 0x6010\n"
        "  jne 2f\n"
        "1: sti\n"
        "  hlt\n"
        "  jmp 1b\n"
        "2: sti\n"
        "3: pause\n"
        "  jmp 3b\n"
        "guest_handler:\n"
        "  push %eax\n"
        "  push %ecx\n"
        "  push %edx\n"
        "  lock incl 0x7000\n"
        "  mov $0x80B, %ecx\n"
        "  xor %eax, %eax\n"
        "  xor %edx, %edx\n"
        "  wrmsr\n"
        "  pop %edx\n"
        "  pop %ecx\n"
        "  pop %eax\n"
        "  iret\n"
        // sender
        "5: cli\n"
        "  mov 0x6000, %ebx\n"
        "6: pause\n"
        "  cmp %ebx, 0x7004\n"
        "  jne 6b\n"
        "  mov 0x6008, %ebp\n"
        "  xor %edi, %edi\n"  // expected acks
        "10:\n"                // iteration: gap
        "  rdtsc\n"
        "  mov %eax, 0x6020\n"
        "11: pause\n"
        "  rdtsc\n"
        "  sub 0x6020, %eax\n"
        "  cmp 0x600C, %eax\n"
        "  jb 11b\n"
        "  rdtsc\n"
        "  mov %eax, 0x6020\n"
        "  mov 0x6004, %eax\n"
        "  cmp $0, %eax\n"
        "  je 20f\n"
        "  cmp $1, %eax\n"
        "  je 21f\n"
        "  cmp $2, %eax\n"
        "  je 23f\n"
        "  cmp $4, %eax\n"
        "  je 30f\n"
        // self: T writes to physical destination 0
        "  mov $1, %esi\n"
        "12: mov $0x830, %ecx\n"
        "  mov $0x4040, %eax\n"
        "  xor %edx, %edx\n"
        "  wrmsr\n"
        "  inc %esi\n"
        "  cmp %ebx, %esi\n"
        "  jbe 12b\n"
        "  jmp 30f\n"
        // shorthand all-excluding-self
        "20: mov $0x830, %ecx\n"
        "  mov $0xC4040, %eax\n"
        "  xor %edx, %edx\n"
        "  wrmsr\n"
        "  add %ebx, %edi\n"
        "  jmp 30f\n"
        // unicast, physical destination i = 1..T
        "21: mov $1, %esi\n"
        "22: mov $0x830, %ecx\n"
        "  mov $0x4040, %eax\n"
        "  mov %esi, %edx\n"
        "  wrmsr\n"
        "  inc %esi\n"
        "  cmp %ebx, %esi\n"
        "  jbe 22b\n"
        "  add %ebx, %edi\n"
        "  jmp 30f\n"
        // x2APIC logical cluster destinations from the table
        "23: xor %esi, %esi\n"
        "24: mov $0x830, %ecx\n"
        "  mov $0x4840, %eax\n"
        "  mov 0x6100(,%esi,4), %edx\n"
        "  wrmsr\n"
        "  inc %esi\n"
        "  cmp 0x60FC, %esi\n"
        "  jb 24b\n"
        "  add %ebx, %edi\n"
        "30: rdtsc\n"
        "  sub 0x6020, %eax\n"
        "  mov %eax, 0x6028\n"
        "31: cmp %edi, 0x7000\n"
        "  jae 32f\n"
        "  pause\n"
        "  jmp 31b\n"
        "32: rdtsc\n"
        "  sub 0x6020, %eax\n"
        "  mov %eax, 0x602C\n"
        "  mov $0x10, %dx\n"
        "  mov 0x6028, %eax\n"
        "  out %eax, %dx\n"
        "  mov $0x11, %dx\n"
        "  mov 0x602C, %eax\n"
        "  out %eax, %dx\n"
        "  dec %ebp\n"
        "  jnz 10b\n"
        "  mov $0x12, %dx\n"
        "  out %eax, %dx\n"
        "40: hlt\n"
        "  jmp 40b\n"
        "guest_end:\n"
        ".code64\n"
        ".popsection\n");

static void die(const char *what) {
    fprintf(stderr, "kvm_ipi: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int kvm_fd, vm_fd;
static size_t run_size;
static uint8_t *mem;

struct vcpu {
    int fd;
    int id;
    struct kvm_run *run;
    pthread_t thread;
};

static struct vcpu *setup_vcpu(int id, struct kvm_cpuid2 *cpuid) {
    struct vcpu *v = calloc(1, sizeof *v);
    v->id = id;
    v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, id);
    if (v->fd < 0) die("KVM_CREATE_VCPU");
    v->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED) die("mmap kvm_run");
    // x2APIC id = vCPU id; keep the CPUID's initial APIC id field consistent
    for (uint32_t i = 0; i < cpuid->nent; i++) {
        struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
        if (e->function == 1) {
            e->ecx |= 1u << 21;  // x2APIC
            e->ebx = (e->ebx & 0x00FFFFFFu) | ((uint32_t)id << 24);
        }
        if (e->function == 0xB || e->function == 0x1F) e->edx = (uint32_t)id;
    }
    if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");
    struct kvm_sregs s;
    if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) die("KVM_GET_SREGS");
    struct kvm_segment *segs[] = {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss};
    for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
        segs[i]->selector = 0;
        segs[i]->base = 0;
    }
    if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS");
    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rip = CODE_ADDR;
    r.rsp = STACKS + 0x100u * (uint32_t)(id + 1);
    r.rsi = (uint64_t)id;
    r.rflags = 2;
    if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) die("KVM_SET_REGS");
    struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
    if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0) die("KVM_SET_MP_STATE");
    return v;
}

static volatile int done;
static int pin;
static uint32_t *send_cycles, *ack_cycles;
static uint32_t n_send, n_ack, n_iters;

static void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) die("pthread_setaffinity_np");
}

static void *vcpu_loop(void *arg) {
    struct vcpu *v = arg;
    if (pin) pin_to(v->id == 0 ? 0 : 1);
    for (;;) {
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR) continue;
            die("KVM_RUN");
        }
        struct kvm_run *run = v->run;
        if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT) {
            uint32_t val;
            memcpy(&val, (uint8_t *)run + run->io.data_offset, 4);
            if (run->io.port == PORT_SEND && n_send < n_iters) send_cycles[n_send++] = val;
            else if (run->io.port == PORT_ACK && n_ack < n_iters) ack_cycles[n_ack++] = val;
            else if (run->io.port == PORT_DONE) {
                done = 1;
                return NULL;
            }
            continue;
        }
        fprintf(stderr, "kvm_ipi: vCPU %d: unexpected exit %u (hw reason 0x%llx)\n", v->id,
                run->exit_reason, (unsigned long long)run->hw.hardware_exit_reason);
        exit(3);
    }
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

// Prints median, p10 and p90 of the samples after `warm` warm-up ones.
static void summary(const char *name, uint32_t *xs, uint32_t n, uint32_t warm) {
    uint32_t m = n - warm;
    uint32_t *s = malloc(m * sizeof *s);
    memcpy(s, xs + warm, m * sizeof *s);
    qsort(s, m, sizeof *s, cmp_u32);
    printf(" %s_p10=%u %s_median=%u %s_p90=%u", name, s[m / 10], name, s[m / 2], name,
           s[m * 9 / 10]);
    free(s);
}

// TSC frequency: the vCPU's KVM_GET_TSC_KHZ (the host's TSC rate unless
// scaled), cross-checked against CLOCK_MONOTONIC over 100 ms.
static double tsc_khz_calibrated(void) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint64_t t0 = __rdtsc();
    struct timespec d = {0, 100000000};
    nanosleep(&d, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    uint64_t t1 = __rdtsc();
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    return (double)(t1 - t0) / ns * 1e6;
}

// ---- futex wake: the host-side try_to_wake_up alone ----
static _Atomic uint32_t *futex_words;
static _Atomic uint32_t futex_acks;
static int futex_threads;

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val) {
    return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static void *futex_waiter(void *arg) {
    _Atomic uint32_t *w = arg;
    if (pin) pin_to(1);
    for (;;) {
        while (atomic_load(w) == 0) futex(w, FUTEX_WAIT_PRIVATE, 0);
        atomic_store(w, 0);
        atomic_fetch_add(&futex_acks, 1);
    }
    return NULL;
}

// T threads blocked in FUTEX_WAIT, each on its own word; the waker times T
// FUTEX_WAKEs (send) and the time until every woken thread has counted
// itself (ack); `--futex-baseline` wakes T words nobody waits on.
static int futex_bench(int t, uint32_t iters, uint32_t gap_us, int baseline) {
    futex_threads = t;
    futex_words = calloc((size_t)t, 64);  // one cache line each
    for (int i = 0; i < t; i++) {
        pthread_t th;
        if (!baseline) pthread_create(&th, NULL, futex_waiter, (void *)&futex_words[i * 16]);
    }
    if (pin) pin_to(0);
    send_cycles = calloc(iters, 4);
    ack_cycles = calloc(iters, 4);
    uint32_t expected = 0;
    for (uint32_t k = 0; k < iters; k++) {
        struct timespec d = {0, (long)gap_us * 1000};
        nanosleep(&d, NULL);
        uint64_t t0 = __rdtsc();
        for (int i = 0; i < t; i++) {
            _Atomic uint32_t *w = &futex_words[i * 16];
            if (!baseline) atomic_store(w, 1);
            futex(w, FUTEX_WAKE_PRIVATE, 1);
        }
        uint64_t t1 = __rdtsc();
        if (!baseline) {
            expected += (uint32_t)t;
            while (atomic_load(&futex_acks) < expected) _mm_pause();
        }
        uint64_t t2 = __rdtsc();
        send_cycles[k] = (uint32_t)(t1 - t0);
        ack_cycles[k] = (uint32_t)(t2 - t0);
    }
    printf("futex%s targets=%d pin=%d iters=%u gap_us=%u tsc_khz=%.0f", baseline ? "-baseline" : "",
           t, pin, iters, gap_us, tsc_khz_calibrated());
    summary("send", send_cycles, iters, iters / 10);
    summary("ack", ack_cycles, iters, iters / 10);
    printf("\n");
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: kvm_ipi --targets T --mode shorthand|unicast|cluster|self|none [--running] [--pin]\n"
            "               [--iters N] [--gap-us US] [--halt-poll-ns NS]\n"
            "       kvm_ipi --futex T [--futex-baseline] [--pin] [--iters N] [--gap-us US]\n");
    exit(1);
}

int main(int argc, char **argv) {
    int targets = 1, mode = -1, running = 0, futex_t = -1, futex_base = 0;
    uint32_t iters = 200, gap_us = 1000;
    long halt_poll_ns = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--targets") && next) targets = atoi(argv[++i]);
        else if (!strcmp(a, "--mode") && next) {
            ++i;
            if (!strcmp(next, "shorthand")) mode = 0;
            else if (!strcmp(next, "unicast")) mode = 1;
            else if (!strcmp(next, "cluster")) mode = 2;
            else if (!strcmp(next, "self")) mode = 3;
            else if (!strcmp(next, "none")) mode = 4;
            else usage();
        } else if (!strcmp(a, "--running")) running = 1;
        else if (!strcmp(a, "--pin")) pin = 1;
        else if (!strcmp(a, "--iters") && next) iters = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(a, "--gap-us") && next) gap_us = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(a, "--halt-poll-ns") && next) halt_poll_ns = atol(argv[++i]);
        else if (!strcmp(a, "--futex") && next) futex_t = atoi(argv[++i]);
        else if (!strcmp(a, "--futex-baseline")) futex_base = 1;
        else usage();
    }
    if (iters < 10) usage();
    if (futex_t > 0) return futex_bench(futex_t, iters, gap_us, futex_base);
    if (mode < 0 || targets < 1 || targets > 250) usage();

    kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd < 0) die("open /dev/kvm");
    vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vm_fd < 0) die("KVM_CREATE_VM");
    int max_vcpus = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (targets + 1 > max_vcpus) {
        fprintf(stderr, "kvm_ipi: %d vCPUs > KVM_CAP_MAX_VCPUS %d\n", targets + 1, max_vcpus);
        return 2;
    }
    ioctl(vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
    uint64_t ident = 0xfffbc000ul;
    ioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);
    // Halt polling: 0 (default here) makes a halted target block, so a send
    // pays the wake-up; KVM's default (200,000 ns) keeps it polling.
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_HALT_POLL) > 0) {
        struct kvm_enable_cap cap = {.cap = KVM_CAP_HALT_POLL};
        cap.args[0] = (uint64_t)halt_poll_ns;
        if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0) die("KVM_ENABLE_CAP HALT_POLL");
    } else if (halt_poll_ns == 0) {
        fprintf(stderr, "kvm_ipi: KVM_CAP_HALT_POLL missing: halt polling stays on\n");
    }
    if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) die("KVM_CREATE_IRQCHIP");

    mem = mmap(NULL, MEM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) die("mmap guest memory");
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_BYTES, .userspace_addr = (uint64_t)mem};
    if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
    size_t code_len = (size_t)(guest_end - guest_start);
    memcpy(mem + CODE_ADDR, guest_start, code_len);
    uint16_t handler_ip = (uint16_t)(CODE_ADDR + (uint32_t)(guest_handler - guest_start));
    memcpy(mem + VECTOR * 4, &handler_ip, 2);  // IVT: offset, segment 0
    uint32_t gap_cycles = 0;

    run_size = (size_t)ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    int nent = 256;
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + (size_t)nent * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = (uint32_t)nent;
    if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");

    int n = targets + 1;
    struct vcpu **v = calloc((size_t)n, sizeof *v);
    for (int i = 0; i < n; i++) v[i] = setup_vcpu(i, cpuid);
    long tsc_khz = ioctl(v[0]->fd, KVM_GET_TSC_KHZ, 0);
    double cal_khz = tsc_khz_calibrated();
    gap_cycles = (uint32_t)(cal_khz * gap_us / 1000.0);

    // x2APIC logical destinations: cluster id<<16 | bit (id & 15), sender excluded
    uint32_t ncl = 0;
    for (int c = 0; c * 16 < n; c++) {
        uint32_t bits = 0;
        for (int id = c * 16; id < n && id < c * 16 + 16; id++)
            if (id != 0) bits |= 1u << (id & 15);
        if (bits) {
            uint32_t d = ((uint32_t)c << 16) | bits;
            memcpy(mem + P_CLUST + 4 * ncl, &d, 4);
            ncl++;
        }
    }
    uint32_t params[] = {(uint32_t)targets, (uint32_t)mode, iters, gap_cycles, (uint32_t)running};
    memcpy(mem + P_TARGETS, params, sizeof params);
    memcpy(mem + P_NCLUST, &ncl, 4);

    n_iters = iters;
    send_cycles = calloc(iters, 4);
    ack_cycles = calloc(iters, 4);
    for (int i = n - 1; i >= 0; i--)
        if (pthread_create(&v[i]->thread, NULL, vcpu_loop, v[i]) != 0) die("pthread_create");
    pthread_join(v[0]->thread, NULL);
    if (n_send != iters || n_ack != iters) {
        fprintf(stderr, "kvm_ipi: got %u/%u samples\n", n_send, n_ack);
        return 3;
    }
    static const char *names[] = {"shorthand", "unicast", "cluster", "self", "none"};
    printf("kvm mode=%s targets=%d running=%d pin=%d iters=%u gap_us=%u halt_poll_ns=%ld icr_writes=%u "
           "tsc_khz=%ld tsc_khz_cal=%.0f",
           names[mode], targets, running, pin, iters, gap_us, halt_poll_ns,
           mode == 0 ? 1u : mode == 2 ? ncl : mode == 4 ? 0u : (uint32_t)targets, tsc_khz, cal_khz);
    summary("send", send_cycles, iters, iters / 10);
    summary("ack", ack_cycles, iters, iters / 10);
    printf("\n");
    fflush(stdout);
    _exit(0);
}
