/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel -> user records of the SysFlow collector. Defined once here; the Rust
 * mirror lives in src/events.rs and both sides assert the sizes.
 *
 * Every ring-buffer record starts with `struct ev_hdr`. Kinds come in families
 * (1x process, 2x flow, 3x file event); an id is never reused.
 */
#ifndef SYSFLOW_EVENTS_H
#define SYSFLOW_EVENTS_H

#define EV_FORK 10
#define EV_EXEC 11
#define EV_EXIT 12
#define EV_SETUID 13
#define EV_FLOW_OPEN 20
#define EV_FLOW_END 21
#define EV_FILE_EVENT 30

/* SysFlow op flags (same numbers as the schema). */
#define OPF_CLONE 1
#define OPF_EXEC 2
#define OPF_EXIT 4
#define OPF_SETUID 8
#define OPF_SETNS 16
#define OPF_ACCEPT 32
#define OPF_CONNECT 64
#define OPF_OPEN 128
#define OPF_READ 256
#define OPF_WRITE 512
#define OPF_CLOSE 1024
#define OPF_TRUNCATE 2048
#define OPF_SHUTDOWN 4096
#define OPF_MMAP 8192
#define OPF_MKDIR 32768
#define OPF_RMDIR 65536
#define OPF_LINK 131072
#define OPF_UNLINK 262144
#define OPF_SYMLINK 524288
#define OPF_RENAME 1048576

/* Flow resource types (ASCII, as SysFlow's File.restype). */
#define FT_FILE 'f'
#define FT_DIR 'd'
#define FT_PIPE 'p'
#define FT_UNIX 'u'
#define FT_INET '4'
#define FT_INET6 '6'

/* Socket role of the owning process, used to order the tuple client -> server. */
#define ROLE_CLIENT 0
#define ROLE_SERVER 1
#define ROLE_UNKNOWN 2

/* Why a flow ended. */
#define END_CLOSE 1
#define END_REOPEN 2

/* Collection modes (.rodata `cfg_mode`). */
#define MODE_FLOW 0
#define MODE_CONSUME 1
#define MODE_NOFILES 2

/* Slot sizes (bytes). Paths are written as NUL-separated components, leaf first. */
#define PATH_SLOT 2048
#define RAW_SLOT 1024
#define ARGS_SLOT 4096
#define ENV_SLOT 4096
#define CGROUP_SLOT 256

/* Drop / statistics counters (index into the per-CPU `stats` array). */
#define ST_RB_DROP_PROC 0     /* ring buffer full: fork/exec/exit/setuid record lost */
#define ST_RB_DROP_FLOW 1     /* ring buffer full: flow open/end record lost */
#define ST_RB_DROP_FILE_EVENT 2 /* ring buffer full: file event lost */
#define ST_MAP_FULL_FLOWS 3   /* flow table full: flow not tracked */
#define ST_AGG_HITS 4         /* read/write/send/recv/mmap/shutdown/setns hits aggregated in the kernel */
#define ST_EVENTS 5           /* records submitted to the ring buffer */
#define ST_HITS 6             /* every program invocation */
#define ST_NSTATS 8

struct ev_hdr {
	__u32 kind;
	__u32 len; /* bytes of the whole record */
	__u64 ts;  /* CLOCK_BOOTTIME ns */
	__u32 pid; /* thread group id */
	__u32 tid;
};

struct ev_fork {
	struct ev_hdr hdr; /* pid/tid = the caller */
	__u32 child_pid;
	__u32 child_tid;
	__u32 is_thread;
	__u32 child_ppid; /* real parent tgid of the child */
};

struct ev_exec {
	struct ev_hdr hdr;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 tty;
	__u32 vpid;
	__u16 exe_len;  /* bytes used in exe (components, leaf first) */
	__u16 args_len; /* bytes used in args (NUL separated argv) */
	__u16 env_len;
	__u16 cwd_len; /* components, leaf first */
	__u16 cgroup_len;
	__u16 pad;
	char exe[PATH_SLOT];
	char cwd[PATH_SLOT];
	char args[ARGS_SLOT];
	char env[ENV_SLOT];
	char cgroup[CGROUP_SLOT];
};

struct ev_exit {
	struct ev_hdr hdr;
	__s32 exit_code;
	__u32 group_dead;
};

struct ev_setuid {
	struct ev_hdr hdr;
	__s32 ret;
	__u32 which; /* 0 setuid, 1 setreuid, 2 setresuid */
	__u32 arg_uid;
	__u32 new_uid;
	__u32 new_gid;
	__u32 pad;
};

struct ev_flow_open {
	struct ev_hdr hdr; /* tid = thread that started the flow */
	__u64 start_ts;    /* identity of the flow together with (pid, fd) */
	__s32 fd;
	__u32 op;         /* op flags of the starting event */
	__u32 flags;      /* Linux O_* flags of the open (0 when not an open) */
	__u32 fmode;      /* f_mode of the file */
	__u64 ino;
	__u8 ftype;       /* FT_* */
	__u8 proto;       /* IPPROTO_* for sockets */
	__u8 role;        /* ROLE_* */
	__u8 oneshot;     /* 1: the flow is complete (close without a tracked flow, consume-mode open) */
	__u16 lport;      /* local port, host order */
	__u16 rport;      /* remote port, host order */
	__u8 laddr[16];   /* IPv4 in the first 4 bytes, or IPv6 */
	__u8 raddr[16];
	__u32 path_len;   /* bytes used in path */
	__u32 pad;
	char path[PATH_SLOT];
};

struct ev_flow_end {
	struct ev_hdr hdr; /* tid = thread that ended the flow */
	__u64 start_ts;
	__s32 fd;
	__u32 op_flags;
	__u32 reason; /* END_* */
	__u32 pad;
	__u64 r_ops;
	__u64 w_ops;
	__u64 r_bytes;
	__u64 w_bytes;
};

struct ev_file_event {
	struct ev_hdr hdr;
	__s32 ret;
	__u32 op;
	__u16 path1_len;
	__u16 base1_len; /* components of the dir a relative path1 is relative to */
	__u16 path2_len;
	__u16 base2_len;
	char path1[RAW_SLOT];
	char path2[RAW_SLOT];
	char base1[PATH_SLOT];
	char base2[PATH_SLOT];
};

/* In-kernel aggregate of one (process, fd). */
struct flow_key {
	__u32 pid;
	__s32 fd;
};

struct flow_val {
	__u64 start_ts;
	__u32 tid;
	__u32 op_flags;
	__u64 r_ops;
	__u64 w_ops;
	__u64 r_bytes;
	__u64 w_bytes;
};

_Static_assert(sizeof(struct ev_hdr) == 24, "ev_hdr");
_Static_assert(sizeof(struct ev_fork) == 40, "ev_fork");
_Static_assert(sizeof(struct ev_exec) == 24 + 32 + 2 * PATH_SLOT + ARGS_SLOT + ENV_SLOT + CGROUP_SLOT, "ev_exec");
_Static_assert(sizeof(struct ev_exit) == 32, "ev_exit");
_Static_assert(sizeof(struct ev_setuid) == 48, "ev_setuid");
_Static_assert(sizeof(struct ev_flow_open) == 24 + 80 + PATH_SLOT, "ev_flow_open");
_Static_assert(sizeof(struct ev_flow_end) == 24 + 56, "ev_flow_end");
_Static_assert(sizeof(struct ev_file_event) == 24 + 16 + 2 * RAW_SLOT + 2 * PATH_SLOT, "ev_file_event");
_Static_assert(sizeof(struct flow_key) == 8, "flow_key");
_Static_assert(sizeof(struct flow_val) == 48, "flow_val");

#endif
