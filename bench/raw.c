/* raw.c -- the floor under nslab's "spawn + view + close".
 *
 * Compiled at bench time (cc -O2) into a temp dir by bench/_raw.py.
 *
 *   raw -f MASK [-n N] [-w WARMUP] [-u root|self] [-q]
 *
 * One iteration, timed with clock_gettime(CLOCK_MONOTONIC) from before the
 * fork to after the last waitpid:
 *   parent: fork
 *   child:  prctl(PR_SET_PDEATHSIG, SIGKILL); unshare(MASK)
 *           if CLONE_NEWUSER: pipe handshake -- the child says "unshared",
 *             the PARENT writes the maps (as the library does) and says "go":
 *               -u root: uid_map/gid_map "0 100000 65536" (root maps the
 *                        namespace to an unprivileged range)
 *               -u self: setgroups "deny", then "0 <uid> 1" / "0 <gid> 1"
 *                        (what an unprivileged user may write)
 *           if CLONE_NEWNS: mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)
 *           if CLONE_NEWPID or CLONE_NEWTIME: fork once more (the init), and
 *             the init does the view; else the child does the view itself
 *   view:   stat(2) of the ten /proc/self/ns links; read /proc/self/status,
 *           uid_map, gid_map, setgroups, mountinfo, cgroup, timens_offsets,
 *           /proc/sysvipc/{shm,msg,sem}, /proc/sys/kernel/{hostname,domainname};
 *           plus ONE rtnetlink RTM_GETLINK dump (included by default, -L
 *           leaves it out).
 *   -q:     no view at all (pure creation + teardown; used for mount scaling)
 *
 * Prints one line:  n=.. median_us=.. p10_us=.. p90_us=.. min_us=..
 * Any failure: message on stderr, exit status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

static const char *ns_links[] = {
    "/proc/self/ns/cgroup", "/proc/self/ns/ipc",  "/proc/self/ns/mnt",
    "/proc/self/ns/net",    "/proc/self/ns/pid",  "/proc/self/ns/pid_for_children",
    "/proc/self/ns/time",   "/proc/self/ns/time_for_children",
    "/proc/self/ns/user",   "/proc/self/ns/uts",
};
static const char *view_files[] = {
    "/proc/self/status",       "/proc/self/uid_map",       "/proc/self/gid_map",
    "/proc/self/setgroups",    "/proc/self/mountinfo",     "/proc/self/cgroup",
    "/proc/self/timens_offsets", "/proc/sysvipc/shm",      "/proc/sysvipc/msg",
    "/proc/sysvipc/sem",       "/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname",
};

static char buf[1 << 16];
static int with_netlink = 1;

static void read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return; /* e.g. timens_offsets on a kernel without CONFIG_TIME_NS */
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
}

static void link_dump(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return;
    struct {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
    } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_len = sizeof req;
    req.nh.nlmsg_type = RTM_GETLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = 1;
    req.ifi.ifi_family = AF_UNSPEC;
    if (send(fd, &req, sizeof req, 0) < 0) {
        close(fd);
        return;
    }
    for (;;) {
        ssize_t len = recv(fd, buf, sizeof buf, 0);
        if (len <= 0)
            break;
        struct nlmsghdr *nh = (struct nlmsghdr *)buf;
        int done = 0;
        for (; NLMSG_OK(nh, (size_t)len); nh = NLMSG_NEXT(nh, len))
            if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR)
                done = 1;
        if (done)
            break;
    }
    close(fd);
}

static void view(void)
{
    struct stat st;
    for (size_t i = 0; i < sizeof ns_links / sizeof *ns_links; i++)
        stat(ns_links[i], &st);
    for (size_t i = 0; i < sizeof view_files / sizeof *view_files; i++)
        read_file(view_files[i]);
    if (with_netlink)
        link_dump();
}

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t len = (ssize_t)strlen(s);
    ssize_t w = write(fd, s, len);
    int e = errno;
    close(fd);
    errno = e;
    return w == len ? 0 : -1;
}

static int write_maps(pid_t pid, int self_map)
{
    char path[64], line[64];
    if (self_map) {
        snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
        if (write_str(path, "deny") < 0)
            return -1;
        snprintf(line, sizeof line, "0 %u 1\n", (unsigned)getuid());
    } else {
        snprintf(line, sizeof line, "0 100000 65536\n");
    }
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
    if (write_str(path, line) < 0)
        return -1;
    if (self_map)
        snprintf(line, sizeof line, "0 %u 1\n", (unsigned)getgid());
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
    return write_str(path, line);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* Runs in the forked child; never returns. */
static void child(unsigned long flags, int quiet, int ready_w, int go_r)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (unshare((int)flags) < 0) {
        fprintf(stderr, "raw: unshare(0x%lx): %s\n", flags, strerror(errno));
        _exit(1);
    }
    if (flags & CLONE_NEWUSER) {
        char c = 'u';
        if (write(ready_w, &c, 1) != 1 || read(go_r, &c, 1) != 1 || c != 'g')
            _exit(1); /* parent reported the map write failure */
    }
    if ((flags & CLONE_NEWNS) && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        fprintf(stderr, "raw: mount / MS_REC|MS_PRIVATE: %s\n", strerror(errno));
        _exit(1);
    }
    if (flags & (CLONE_NEWPID | CLONE_NEWTIME)) {
        pid_t init = fork();
        if (init < 0) {
            fprintf(stderr, "raw: fork of the init: %s\n", strerror(errno));
            _exit(1);
        }
        if (init == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (!quiet)
                view();
            _exit(0);
        }
        int st;
        if (waitpid(init, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            _exit(1);
        _exit(0);
    }
    if (!quiet)
        view();
    _exit(0);
}

int main(int argc, char **argv)
{
    unsigned long flags = 0;
    int n = 200, warmup = 5, quiet = 0, self_map = getuid() != 0, opt;
    while ((opt = getopt(argc, argv, "f:n:w:u:qL")) != -1) {
        switch (opt) {
        case 'f': flags = strtoul(optarg, NULL, 0); break;
        case 'n': n = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'u': self_map = strcmp(optarg, "self") == 0; break;
        case 'q': quiet = 1; break;
        case 'L': with_netlink = 0; break;
        default:
            fprintf(stderr, "usage: raw -f MASK [-n N] [-w W] [-u root|self] [-q] [-L]\n");
            return 2;
        }
    }
    if (n < 1 || warmup < 0)
        return 2;
    long long *t = calloc((size_t)n, sizeof *t);
    if (!t)
        return 1;
    for (int i = 0; i < warmup + n; i++) {
        int ready[2] = {-1, -1}, go[2] = {-1, -1};
        long long t0 = now_ns();
        if ((flags & CLONE_NEWUSER) && (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)) {
            perror("raw: pipe2");
            return 1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("raw: fork");
            return 1;
        }
        if (pid == 0)
            child(flags, quiet, ready[1], go[0]);
        int failed = 0;
        if (flags & CLONE_NEWUSER) {
            char c;
            close(ready[1]);
            close(go[0]);
            if (read(ready[0], &c, 1) == 1) {
                if (write_maps(pid, self_map) < 0) {
                    fprintf(stderr, "raw: writing the id maps of %d: %s\n", (int)pid, strerror(errno));
                    failed = 1;
                }
                c = failed ? 'f' : 'g';
                if (write(go[1], &c, 1) != 1)
                    failed = 1;
            }
            close(ready[0]);
            close(go[1]);
        }
        int st;
        if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            failed = 1;
        long long t1 = now_ns();
        if (failed) {
            fprintf(stderr, "raw: iteration %d failed (flags 0x%lx)\n", i, flags);
            return 1;
        }
        if (i >= warmup)
            t[i - warmup] = t1 - t0;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_ll);
    printf("n=%d median_us=%.1f p10_us=%.1f p90_us=%.1f min_us=%.1f\n", n,
           (n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2) / 1e3,
           t[n / 10] / 1e3, t[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1] / 1e3, t[0] / 1e3);
    free(t);
    return 0;
}
