// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * SysFlow collector probes (CO-RE).
 *
 * Only per-syscall tracepoints (`tp/syscalls/...`) and scheduler BTF
 * tracepoints are used: no catch-all raw_syscalls handler, no kprobes.
 *
 * Read/write/send/recv/mmap/shutdown/setns hits are aggregated per
 * (process, fd) in the `flows` hash map; user space only hears about a flow
 * when it starts (EV_FLOW_OPEN, with its path or socket tuple) and when it
 * ends (EV_FLOW_END, with the counters). Exit and interval export read the
 * map from user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Configuration, set by the loader before load. */
const volatile __u32 cfg_self_pid = 0;
const volatile __u32 cfg_mode = MODE_FLOW;
const volatile __u32 cfg_file_only = 1;
const volatile __u64 cfg_wakeup_bytes = 65536;

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFDIR 0040000
#define S_IFIFO 0010000
#define MAP_ANONYMOUS 0x20
#define AT_FDCWD -100
#define SOCK_RAW 3
#define EINPROGRESS 115
#define NAME_CHUNK 256
#define MAX_DEPTH 40

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ev_exec);
} scratch_exec SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ev_flow_open);
} scratch_open SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ev_file_event);
} scratch_fe SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline __u64 wake_flags(void)
{
	if (bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline int submit(void *data, __u64 size, __u32 drop_stat)
{
	if (bpf_ringbuf_output(&rb, data, size, wake_flags()) != 0) {
		stat_inc(drop_stat);
		return -1;
	}
	stat_inc(ST_EVENTS);
	return 0;
}

static __always_inline void fill_hdr(struct ev_hdr *h, __u32 kind, __u32 len)
{
	__u64 id = bpf_get_current_pid_tgid();
	h->kind = kind;
	h->len = len;
	h->ts = bpf_ktime_get_boot_ns();
	h->pid = id >> 32;
	h->tid = (__u32)id;
}

/* Whether the current process is the collector itself. */
static __always_inline int is_self(void)
{
	return cfg_self_pid != 0 && (bpf_get_current_pid_tgid() >> 32) == cfg_self_pid;
}

/* The pt_regs of the current syscall: at sys_exit the argument registers still hold the arguments. */
static __always_inline struct pt_regs *cur_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* r is a trusted BTF pointer: direct (CO-RE relocated) loads, no probe-read helper call */
#define ARG0(r) ((r)->di)
#define ARG1(r) ((r)->si)
#define ARG2(r) ((r)->dx)
#define ARG3(r) ((r)->r10)
#define ARG4(r) ((r)->r8)

/*
 * Writes the components of `dentry`/`vfsmnt` into buf, leaf first, each NUL
 * terminated. Returns the number of bytes used. Stops at the root of the
 * task's mount namespace (a container sees its own paths).
 */
struct walk_ctx {
	struct dentry *d;
	struct vfsmount *vmnt;
	struct mount *mnt;
	char *buf;
	__u32 off;
};

static long walk_step(__u64 idx, struct walk_ctx *c)
{
	struct dentry *d = c->d;
	struct vfsmount *vmnt = c->vmnt;
	struct mount *mnt = c->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(vmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == mnt_root || d == parent) {
		if (d != mnt_root)
			return 1;
		struct mount *mp = BPF_CORE_READ(mnt, mnt_parent);
		if (mp == mnt || mp == 0)
			return 1;
		c->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->mnt = mp;
		c->vmnt = &mp->mnt;
		return 0;
	}
	__u32 off = c->off;
	if (off > PATH_SLOT - NAME_CHUNK)
		return 1;
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	long n = bpf_probe_read_kernel_str(c->buf + (off & (PATH_SLOT - 1)), NAME_CHUNK, name);
	if (n <= 0)
		return 1;
	c->off = off + n;
	c->d = parent;
	return 0;
}

/*
 * Writes the components of `d`/`vmnt` into buf (PATH_SLOT bytes), leaf
 * first, each NUL terminated. Returns the number of bytes used. Stops at the
 * root of the task's mount namespace (a container sees its own paths).
 */
static __always_inline __u32 walk_path(struct dentry *d, struct vfsmount *vmnt, char *buf)
{
	struct walk_ctx c = {
		.d = d,
		.vmnt = vmnt,
		.mnt = container_of(vmnt, struct mount, mnt),
		.buf = buf,
		.off = 0,
	};
	if (!d || !vmnt)
		return 0;
	bpf_loop(MAX_DEPTH, walk_step, &c, 0);
	return c.off;
}

static __always_inline struct file *fd_file(struct task_struct *t, int fd)
{
	struct file **arr;
	struct file *f = 0;
	if (fd < 0)
		return 0;
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return 0;
	arr = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}

/*
 * Classifies the file behind `fd` and fills the descriptive part of a flow
 * open record. Returns 0 if the fd should be tracked.
 */
static __always_inline int describe_fd(struct task_struct *t, int fd, struct ev_flow_open *ev)
{
	struct file *f = fd_file(t, fd);
	if (!f)
		return -1;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	__u16 mode = BPF_CORE_READ(ino, i_mode) & S_IFMT;
	ev->ino = BPF_CORE_READ(ino, i_ino);
	ev->fmode = BPF_CORE_READ(f, f_mode);
	ev->path_len = 0;
	ev->proto = 0;
	ev->lport = 0;
	ev->rport = 0;
	__builtin_memset(ev->laddr, 0, sizeof(ev->laddr));
	__builtin_memset(ev->raddr, 0, sizeof(ev->raddr));
	int files_ok = cfg_mode != MODE_NOFILES;

	if (mode == S_IFREG || mode == S_IFDIR) {
		if (!files_ok || (mode == S_IFDIR && cfg_file_only))
			return -1;
		ev->ftype = mode == S_IFREG ? FT_FILE : FT_DIR;
		ev->path_len = walk_path(BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), ev->path);
		return 0;
	}
	if (mode == S_IFIFO) {
		if (!files_ok || cfg_file_only)
			return -1;
		ev->ftype = FT_PIPE;
		return 0;
	}
	if (mode != S_IFSOCK)
		return -1;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return -1;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_UNIX) {
		if (!files_ok || cfg_file_only)
			return -1;
		ev->ftype = FT_UNIX;
		return 0;
	}
	if (family != AF_INET && family != AF_INET6)
		return -1;
	__u16 type = BPF_CORE_READ(sk, sk_type);
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);
	ev->proto = type == SOCK_RAW ? 254 : (__u8)proto;
	ev->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		ev->ftype = FT_INET;
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(ev->laddr, &l, 4);
		__builtin_memcpy(ev->raddr, &r, 4);
	} else {
		ev->ftype = FT_INET6;
		BPF_CORE_READ_INTO(&ev->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&ev->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	return 0;
}

/* Fills the remote address of an unconnected datagram socket from a user sockaddr. */
static __always_inline void peer_from_user(struct ev_flow_open *ev, const void *uaddr)
{
	__u16 family = 0;
	if (!uaddr || ev->rport != 0)
		return;
	if (bpf_probe_read_user(&family, sizeof(family), uaddr) != 0)
		return;
	if (family == AF_INET && ev->ftype == FT_INET) {
		struct sockaddr_in sin = {};
		if (bpf_probe_read_user(&sin, sizeof(sin), uaddr) == 0) {
			ev->rport = bpf_ntohs(sin.sin_port);
			__builtin_memcpy(ev->raddr, &sin.sin_addr.s_addr, 4);
		}
	} else if (family == AF_INET6 && ev->ftype == FT_INET6) {
		struct sockaddr_in6 sin6 = {};
		if (bpf_probe_read_user(&sin6, sizeof(sin6), uaddr) == 0) {
			ev->rport = bpf_ntohs(sin6.sin6_port);
			__builtin_memcpy(ev->raddr, &sin6.sin6_addr, 16);
		}
	}
}

static __always_inline __u32 flow_open_size(struct ev_flow_open *ev)
{
	__u32 n = ev->path_len;
	if (n > PATH_SLOT)
		n = PATH_SLOT;
	return sizeof(struct ev_flow_open) - PATH_SLOT + n;
}

/* Emits the end of an existing flow (value copied before deletion). */
static __always_inline void emit_flow_end(struct flow_key *k, struct flow_val *v, __u32 reason)
{
	struct ev_flow_end ev = {};
	fill_hdr(&ev.hdr, EV_FLOW_END, sizeof(ev));
	ev.start_ts = v->start_ts;
	ev.fd = k->fd;
	ev.op_flags = v->op_flags;
	ev.reason = reason;
	ev.r_ops = v->r_ops;
	ev.w_ops = v->w_ops;
	ev.r_bytes = v->r_bytes;
	ev.w_bytes = v->w_bytes;
	submit(&ev, sizeof(ev), ST_RB_DROP_FLOW);
}

/*
 * Starts a flow on `fd` with initial op `op`. If a flow already exists on
 * that fd (a missed close, or an open over a reused number) it is ended first
 * when `replace` is set. Returns the map value or NULL when not tracked.
 * `uaddr` is an optional user sockaddr giving the peer of a datagram.
 */
static __always_inline struct flow_val *start_flow(int fd, __u32 op, __u32 oflags, __u8 role, int replace,
						   const void *uaddr, int oneshot)
{
	__u32 zero = 0;
	struct ev_flow_open *ev = bpf_map_lookup_elem(&scratch_open, &zero);
	if (!ev)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	if (describe_fd(t, fd, ev) != 0)
		return 0;
	if (ev->ftype == FT_INET || ev->ftype == FT_INET6)
		peer_from_user(ev, uaddr);
	/* consume mode: files are reported on open only, never aggregated */
	int is_file = ev->ftype != FT_INET && ev->ftype != FT_INET6;
	if (cfg_mode == MODE_CONSUME && is_file) {
		if (!(op & OPF_OPEN))
			return 0;
		oneshot = 1;
	}
	fill_hdr(&ev->hdr, EV_FLOW_OPEN, 0);
	ev->start_ts = ev->hdr.ts;
	ev->fd = fd;
	ev->op = op;
	ev->flags = oflags;
	ev->role = role;
	ev->oneshot = oneshot;

	struct flow_key k = { .pid = ev->hdr.pid, .fd = fd };
	struct flow_val *v = 0;
	if (!oneshot) {
		if (replace) {
			struct flow_val *old = bpf_map_lookup_elem(&flows, &k);
			if (old) {
				struct flow_val copy = *old;
				bpf_map_delete_elem(&flows, &k);
				emit_flow_end(&k, &copy, END_REOPEN);
			}
		}
		struct flow_val nv = { .start_ts = ev->start_ts, .tid = ev->hdr.tid, .op_flags = op };
		if (bpf_map_update_elem(&flows, &k, &nv, BPF_NOEXIST) != 0) {
			/* either full, or raced with another thread: use the winner */
			v = bpf_map_lookup_elem(&flows, &k);
			if (!v)
				stat_inc(ST_MAP_FULL_FLOWS);
			return v;
		}
		v = bpf_map_lookup_elem(&flows, &k);
	}
	__u32 size = flow_open_size(ev);
	ev->hdr.len = size;
	if (size > sizeof(struct ev_flow_open))
		return v;
	submit(ev, size, ST_RB_DROP_FLOW);
	return v;
}

/* Aggregates one read/write-family hit. */
static __always_inline int aggregate(int fd, long ret, __u32 op, const void *uaddr)
{
	stat_inc(ST_HITS);
	if (is_self())
		return 0;
	struct flow_key k = { .pid = bpf_get_current_pid_tgid() >> 32, .fd = fd };
	struct flow_val *v = bpf_map_lookup_elem(&flows, &k);
	if (!v) {
		__u8 role = op == OPF_READ ? ROLE_SERVER : ROLE_CLIENT;
		v = start_flow(fd, 0, 0, uaddr ? role : ROLE_UNKNOWN, 0, uaddr, 0);
		if (!v)
			return 0;
	}
	stat_inc(ST_AGG_HITS);
	if (!(v->op_flags & op))
		v->op_flags |= op;
	if (op == OPF_READ) {
		__sync_fetch_and_add(&v->r_ops, 1);
		if (ret > 0)
			__sync_fetch_and_add(&v->r_bytes, ret);
	} else if (op == OPF_WRITE) {
		__sync_fetch_and_add(&v->w_ops, 1);
		if (ret > 0)
			__sync_fetch_and_add(&v->w_bytes, ret);
	}
	return 0;
}

/* ---- read / write / send / recv (exit side: fd from the saved registers) ---- */

#define RW_EXIT(name, op)                                                        \
	SEC("tp/syscalls/sys_exit_" #name)                                       \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                    \
	{                                                                        \
		struct pt_regs *r = cur_regs();                                  \
		return aggregate((int)ARG0(r), ctx->ret, op, 0);                 \
	}

RW_EXIT(read, OPF_READ)
RW_EXIT(readv, OPF_READ)
RW_EXIT(pread64, OPF_READ)
RW_EXIT(preadv, OPF_READ)
RW_EXIT(recvmmsg, OPF_READ)
RW_EXIT(write, OPF_WRITE)
RW_EXIT(writev, OPF_WRITE)
RW_EXIT(pwrite64, OPF_WRITE)
RW_EXIT(pwritev, OPF_WRITE)
RW_EXIT(sendmmsg, OPF_WRITE)

SEC("tp/syscalls/sys_exit_recvfrom")
int exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return aggregate((int)ARG0(r), ctx->ret, OPF_READ, (const void *)ARG4(r));
}

SEC("tp/syscalls/sys_exit_sendto")
int exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return aggregate((int)ARG0(r), ctx->ret, OPF_WRITE, (const void *)ARG4(r));
}

static __always_inline const void *msg_name(const struct user_msghdr *m)
{
	void *name = 0;
	if (m)
		bpf_probe_read_user(&name, sizeof(name), &m->msg_name);
	return name;
}

SEC("tp/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return aggregate((int)ARG0(r), ctx->ret, OPF_READ, msg_name((const struct user_msghdr *)ARG1(r)));
}

SEC("tp/syscalls/sys_exit_sendmsg")
int exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return aggregate((int)ARG0(r), ctx->ret, OPF_WRITE, msg_name((const struct user_msghdr *)ARG1(r)));
}

/* ---- one-bit ops on a flow ---- */

static __always_inline int mark(int fd, __u32 op)
{
	stat_inc(ST_HITS);
	if (is_self())
		return 0;
	struct flow_key k = { .pid = bpf_get_current_pid_tgid() >> 32, .fd = fd };
	struct flow_val *v = bpf_map_lookup_elem(&flows, &k);
	if (!v) {
		start_flow(fd, op, 0, ROLE_UNKNOWN, 0, 0, 0);
		return 0;
	}
	stat_inc(ST_AGG_HITS);
	if (!(v->op_flags & op))
		v->op_flags |= op;
	return 0;
}

/*
 * Only exit-side syscall tracepoints are used: attaching any sys_enter
 * tracepoint makes every syscall of every task pay the enter-side tracing
 * path, monitored or not.
 */
SEC("tp/syscalls/sys_exit_mmap")
int exit_mmap(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	if (ARG3(r) & MAP_ANONYMOUS)
		return 0;
	int fd = (int)ARG4(r);
	if (fd < 0)
		return 0;
	return mark(fd, OPF_MMAP);
}

SEC("tp/syscalls/sys_exit_shutdown")
int exit_shutdown(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return mark((int)ARG0(r), OPF_SHUTDOWN);
}

SEC("tp/syscalls/sys_exit_setns")
int exit_setns(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return mark((int)ARG0(r), OPF_SETNS);
}

/* ---- flow starts ---- */

static __always_inline int on_open(long ret, __u32 flags)
{
	stat_inc(ST_HITS);
	if (ret < 0 || is_self())
		return 0;
	start_flow((int)ret, OPF_OPEN, flags, ROLE_UNKNOWN, 1, 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_open")
int exit_open(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return on_open(ctx->ret, (__u32)ARG1(r));
}

SEC("tp/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return on_open(ctx->ret, (__u32)ARG2(r));
}

SEC("tp/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	struct open_how *how = (struct open_how *)ARG2(r);
	__u64 flags = 0;
	if (how)
		bpf_probe_read_user(&flags, sizeof(flags), &how->flags);
	return on_open(ctx->ret, (__u32)flags);
}

SEC("tp/syscalls/sys_exit_creat")
int exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	/* creat(path, mode) == open(path, O_CREAT|O_WRONLY|O_TRUNC, mode) */
	return on_open(ctx->ret, 01 | 0100 | 01000);
}

static __always_inline int on_accept(long ret)
{
	stat_inc(ST_HITS);
	if (ret < 0 || is_self())
		return 0;
	start_flow((int)ret, OPF_ACCEPT, 0, ROLE_SERVER, 1, 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tp/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tp/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	stat_inc(ST_HITS);
	if ((ctx->ret != 0 && ctx->ret != -EINPROGRESS) || is_self())
		return 0;
	struct pt_regs *r = cur_regs();
	int fd = (int)ARG0(r);
	struct flow_key k = { .pid = bpf_get_current_pid_tgid() >> 32, .fd = fd };
	struct flow_val *v = bpf_map_lookup_elem(&flows, &k);
	if (v) {
		/* a datagram socket that sent before connecting: same flow */
		if (!(v->op_flags & OPF_CONNECT))
			v->op_flags |= OPF_CONNECT;
		return 0;
	}
	start_flow(fd, OPF_CONNECT, 0, ROLE_CLIENT, 0, 0, 0);
	return 0;
}

/* ---- flow end ---- */

/*
 * close, exit side: the fd is gone, so a close of an fd that was never
 * tracked cannot be classified any more and produces no record.
 */
SEC("tp/syscalls/sys_exit_close")
int exit_close(struct trace_event_raw_sys_exit *ctx)
{
	stat_inc(ST_HITS);
	if (ctx->ret != 0 || is_self())
		return 0;
	struct pt_regs *r = cur_regs();
	int fd = (int)ARG0(r);
	struct flow_key k = { .pid = bpf_get_current_pid_tgid() >> 32, .fd = fd };
	struct flow_val *v = bpf_map_lookup_elem(&flows, &k);
	if (!v)
		return 0;
	struct flow_val copy = *v;
	bpf_map_delete_elem(&flows, &k);
	emit_flow_end(&k, &copy, END_CLOSE);
	return 0;
}

/* ---- processes ---- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	stat_inc(ST_HITS);
	if (is_self())
		return 0;
	struct ev_fork ev = {};
	fill_hdr(&ev.hdr, EV_FORK, sizeof(ev));
	ev.child_pid = BPF_CORE_READ(child, tgid);
	ev.child_tid = BPF_CORE_READ(child, pid);
	ev.is_thread = ev.child_pid == ev.hdr.pid;
	ev.child_ppid = BPF_CORE_READ(child, real_parent, tgid);
	submit(&ev, sizeof(ev), ST_RB_DROP_PROC);
	return 0;
}

static __always_inline __u16 read_user_area(char *dst, __u32 cap, unsigned long start, unsigned long end)
{
	unsigned long len = end > start ? end - start : 0;
	if (len > cap - 1)
		len = cap - 1;
	if (len == 0)
		return 0;
	if (bpf_probe_read_user(dst, len & (ARGS_SLOT - 1), (const void *)start) != 0)
		return 0;
	return (__u16)len;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	stat_inc(ST_HITS);
	if (is_self())
		return 0;
	__u32 zero = 0;
	struct ev_exec *ev = bpf_map_lookup_elem(&scratch_exec, &zero);
	if (!ev)
		return 0;
	fill_hdr(&ev->hdr, EV_EXEC, sizeof(*ev));
	ev->ppid = BPF_CORE_READ(p, real_parent, tgid);
	ev->uid = BPF_CORE_READ(p, cred, euid.val);
	ev->gid = BPF_CORE_READ(p, cred, egid.val);
	ev->tty = BPF_CORE_READ(p, signal, tty) != 0;
	struct pid *tp = BPF_CORE_READ(p, thread_pid);
	unsigned int level = BPF_CORE_READ(tp, level);
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), &tp->numbers[level & 31]);
	ev->vpid = up.nr;

	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	ev->exe_len = exe ? walk_path(BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt), ev->exe) : 0;
	ev->cwd_len = walk_path(BPF_CORE_READ(p, fs, pwd.dentry), BPF_CORE_READ(p, fs, pwd.mnt), ev->cwd);
	ev->args_len = read_user_area(ev->args, ARGS_SLOT, BPF_CORE_READ(mm, arg_start), BPF_CORE_READ(mm, arg_end));
	ev->env_len = read_user_area(ev->env, ENV_SLOT, BPF_CORE_READ(mm, env_start), BPF_CORE_READ(mm, env_end));
	const char *cg = BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, name);
	long n = cg ? bpf_probe_read_kernel_str(ev->cgroup, CGROUP_SLOT, cg) : 0;
	ev->cgroup_len = n > 0 ? n - 1 : 0;
	submit(ev, sizeof(*ev), ST_RB_DROP_PROC);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	stat_inc(ST_HITS);
	if (is_self())
		return 0;
	struct ev_exit ev = {};
	fill_hdr(&ev.hdr, EV_EXIT, sizeof(ev));
	ev.exit_code = BPF_CORE_READ(p, exit_code);
	ev.group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
	submit(&ev, sizeof(ev), ST_RB_DROP_PROC);
	return 0;
}

static __always_inline int on_setuid(long ret, __u32 which, __u32 arg)
{
	stat_inc(ST_HITS);
	if (is_self())
		return 0;
	struct ev_setuid ev = {};
	fill_hdr(&ev.hdr, EV_SETUID, sizeof(ev));
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	ev.ret = (__s32)ret;
	ev.which = which;
	ev.arg_uid = arg;
	ev.new_uid = BPF_CORE_READ(t, cred, euid.val);
	ev.new_gid = BPF_CORE_READ(t, cred, egid.val);
	submit(&ev, sizeof(ev), ST_RB_DROP_PROC);
	return 0;
}

SEC("tp/syscalls/sys_exit_setuid")
int exit_setuid(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return on_setuid(ctx->ret, 0, (__u32)ARG0(r));
}

SEC("tp/syscalls/sys_exit_setreuid")
int exit_setreuid(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return on_setuid(ctx->ret, 1, (__u32)ARG1(r));
}

SEC("tp/syscalls/sys_exit_setresuid")
int exit_setresuid(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *r = cur_regs();
	return on_setuid(ctx->ret, 2, (__u32)ARG1(r));
}

/* ---- file events ---- */

/* Copies a user path and, when it is relative, the components of its base directory. */
static __always_inline void fe_path(struct task_struct *t, int dirfd, const char *upath, char *raw, __u16 *raw_len,
				    char *base, __u16 *base_len)
{
	*raw_len = 0;
	*base_len = 0;
	if (!upath)
		return;
	long n = bpf_probe_read_user_str(raw, RAW_SLOT, upath);
	if (n <= 0)
		return;
	*raw_len = n - 1;
	if (raw[0] == '/')
		return;
	if (dirfd == AT_FDCWD) {
		*base_len = walk_path(BPF_CORE_READ(t, fs, pwd.dentry), BPF_CORE_READ(t, fs, pwd.mnt), base);
	} else {
		struct file *f = fd_file(t, dirfd);
		if (f)
			*base_len = walk_path(BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), base);
	}
}

static __always_inline int file_event(long ret, __u32 op, int dfd1, const char *p1, int dfd2, const char *p2)
{
	stat_inc(ST_HITS);
	if (is_self())
		return 0;
	__u32 zero = 0;
	struct ev_file_event *ev = bpf_map_lookup_elem(&scratch_fe, &zero);
	if (!ev)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	fill_hdr(&ev->hdr, EV_FILE_EVENT, sizeof(*ev));
	ev->ret = (__s32)ret;
	ev->op = op;
	fe_path(t, dfd1, p1, ev->path1, &ev->path1_len, ev->base1, &ev->base1_len);
	fe_path(t, dfd2, p2, ev->path2, &ev->path2_len, ev->base2, &ev->base2_len);
	submit(ev, sizeof(*ev), ST_RB_DROP_FILE_EVENT);
	return 0;
}

#define FE_EXIT(name, body)                                                      \
	SEC("tp/syscalls/sys_exit_" #name)                                       \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                    \
	{                                                                        \
		struct pt_regs *r = cur_regs();                                  \
		body;                                                            \
	}

FE_EXIT(mkdir, return file_event(ctx->ret, OPF_MKDIR, AT_FDCWD, (const char *)ARG0(r), AT_FDCWD, 0))
FE_EXIT(mkdirat, return file_event(ctx->ret, OPF_MKDIR, (int)ARG0(r), (const char *)ARG1(r), AT_FDCWD, 0))
FE_EXIT(rmdir, return file_event(ctx->ret, OPF_RMDIR, AT_FDCWD, (const char *)ARG0(r), AT_FDCWD, 0))
FE_EXIT(unlink, return file_event(ctx->ret, OPF_UNLINK, AT_FDCWD, (const char *)ARG0(r), AT_FDCWD, 0))
FE_EXIT(unlinkat, return file_event(ctx->ret, OPF_UNLINK, (int)ARG0(r), (const char *)ARG1(r), AT_FDCWD, 0))
FE_EXIT(link, return file_event(ctx->ret, OPF_LINK, AT_FDCWD, (const char *)ARG0(r), AT_FDCWD,
				(const char *)ARG1(r)))
FE_EXIT(linkat, return file_event(ctx->ret, OPF_LINK, (int)ARG0(r), (const char *)ARG1(r), (int)ARG2(r),
				  (const char *)ARG3(r)))
/* symlink: path1 = link path (resolved), path2 = target (kept verbatim: base2 left empty by dirfd -2) */
FE_EXIT(symlink, return file_event(ctx->ret, OPF_SYMLINK, AT_FDCWD, (const char *)ARG1(r), -2,
				   (const char *)ARG0(r)))
FE_EXIT(symlinkat, return file_event(ctx->ret, OPF_SYMLINK, (int)ARG1(r), (const char *)ARG2(r), -2,
				     (const char *)ARG0(r)))
FE_EXIT(rename, return file_event(ctx->ret, OPF_RENAME, AT_FDCWD, (const char *)ARG0(r), AT_FDCWD,
				  (const char *)ARG1(r)))
FE_EXIT(renameat, return file_event(ctx->ret, OPF_RENAME, (int)ARG0(r), (const char *)ARG1(r), (int)ARG2(r),
				    (const char *)ARG3(r)))
FE_EXIT(renameat2, return file_event(ctx->ret, OPF_RENAME, (int)ARG0(r), (const char *)ARG1(r), (int)ARG2(r),
				     (const char *)ARG3(r)))
