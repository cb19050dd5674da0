/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "containers.h"
#include "copy.h"
#include "journal.h"
#include "mounts.h"
#include "paths.h"
#include "remove.h"
#include "units.h"
#include "migrate.h"
#include "util.h"
#include "verify.h"

/* Exit codes are part of the interface: provisioning scripts branch on
 * them. Keep README.md and --help in step. */
enum {
        EXIT_DONE = 0,
        EXIT_ROLLED_BACK = 1,
        EXIT_USAGE = 2,
        EXIT_REFUSED = 3,
        EXIT_STUCK = 4,
};

typedef enum Command {
        COMMAND_NONE,
        COMMAND_MIGRATE,
        COMMAND_COPY,
        COMMAND_VERIFY,
        COMMAND_STATUS,
        COMMAND_ROLLBACK,
        COMMAND_CLEANUP,
} Command;

static Command arg_command = COMMAND_NONE;
static bool arg_yes = false;
static bool arg_dry_run = false;
static bool arg_json = false;
static bool arg_verify_content = false;
static bool arg_content = false;
static int arg_progress = -1; /* -1: when stderr is a terminal or a log */
static unsigned arg_jobs = 0;
static const char *arg_config = NULL;
static const char *arg_state_dir = DEFAULT_STATE_DIR;
static bool arg_remove_target = false;
static bool arg_add_mount_dependency = false;
static bool arg_include_containerd = false;
static const char *arg_containerd_root = NULL;
static const char *arg_paths[2] = {};

static void help(void) {
        printf("docker-dataroot %s - move Docker's data-root to another filesystem safely\n"
               "\n"
               "Usage:\n"
               "  docker-dataroot migrate [OPTIONS] TARGET\n"
               "  docker-dataroot copy [--jobs N] [--progress|--no-progress] SRC DST\n"
               "  docker-dataroot verify [--content] SRC DST\n"
               "  docker-dataroot status [--json]\n"
               "  docker-dataroot rollback [--yes] [--remove-target]\n"
               "  docker-dataroot cleanup [--yes]\n"
               "  docker-dataroot --help | --version\n"
               "\n"
               "migrate stops docker.socket and docker.service, copies the data-root to\n"
               "TARGET with every piece of metadata, verifies the copy, sets \"data-root\"\n"
               "in daemon.json (keeping a backup), starts Docker and confirms the new root.\n"
               "Any failure after the stop restores daemon.json and restarts Docker on the\n"
               "old root. The old tree is never modified; 'cleanup' removes it once the\n"
               "migration is verified and Docker runs on the new root. An interrupted\n"
               "migration is resumed by running the same migrate again, or undone by\n"
               "'rollback'. 'status' shows where the data-root is and what is left over.\n"
               "\n"
               "Options:\n"
               "  -y --yes             do not ask (the mount drop-in is then added only\n"
               "                       with --add-mount-dependency)\n"
               "  -n --dry-run         run every check, print the plan, change nothing\n"
               "     --json            print the plan and the result as JSON on stdout\n"
               "  -j --jobs N          copy with N worker threads (default %u)\n"
               "     --config PATH     daemon.json to edit (default %s)\n"
               "     --verify-content  compare file contents too after the copy\n"
               "     --add-mount-dependency\n"
               "                       give docker.service RequiresMountsFor=TARGET\n"
               "                       (and containerd.service its new root's)\n"
               "     --include-containerd\n"
               "                       move containerd's root too (its \"root\" in\n"
               "                       /etc/containerd/config.toml), needed with the\n"
               "                       containerd image store\n"
               "     --containerd-root DIR\n"
               "                       containerd's new root (default: containerd next\n"
               "                       to TARGET)\n"
               "     --content         (verify) compare file contents too\n"
               "     --progress        show progress on stderr\n"
               "     --no-progress     do not show progress\n"
               "     --remove-target   (rollback) also remove the copy of an unfinished\n"
               "                       migration\n"
               "     --state-dir DIR   journal and lock (default %s)\n"
               "  -h --help            show this help\n"
               "     --version         show the version\n"
               "\n"
               "Exit status:\n"
               "  0  done, or nothing to do (TARGET already is the data-root);\n"
               "     verify: the trees are equal\n"
               "  1  migrate failed or was interrupted, and was rolled back: Docker runs\n"
               "     on the old root; copy: some entries failed; verify: the trees\n"
               "     differ; rollback/cleanup: some entries could not be removed\n"
               "  2  usage error (also: no --yes and stdin is not a terminal);\n"
               "     verify: the trees could not be compared\n"
               "  3  refused by a check, or answered no; nothing was changed\n"
               "     (rollback/cleanup: also when no migration is recorded)\n"
               "  4  failed and could not roll back (or rollback failed); the message\n"
               "     says what to run\n"
               "\n"
               "The engine is reached through DOCKER_HOST (unix:// only) or\n"
               "/var/run/docker.sock; systemd through the system bus\n"
               "(DBUS_SYSTEM_BUS_ADDRESS).\n",
               PROJECT_VERSION, copy_default_jobs(), DAEMON_CONFIG_DEFAULT_PATH, DEFAULT_STATE_DIR);
}

static int parse_jobs(const char *s, unsigned *ret) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno != 0 || !end || *end != 0 || end == s || v < 1 || v > 256 || s[0] == '-')
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* <0: error, 0: done (help/version), >0: run the command. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_CONFIG,
                ARG_VERIFY_CONTENT,
                ARG_CONTENT,
                ARG_PROGRESS,
                ARG_NO_PROGRESS,
                ARG_REMOVE_TARGET,
                ARG_STATE_DIR,
                ARG_ADD_MOUNT_DEPENDENCY,
                ARG_INCLUDE_CONTAINERD,
                ARG_CONTAINERD_ROOT,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "yes", no_argument, NULL, 'y' },
                { "dry-run", no_argument, NULL, 'n' },
                { "json", no_argument, NULL, ARG_JSON },
                { "jobs", required_argument, NULL, 'j' },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "verify-content", no_argument, NULL, ARG_VERIFY_CONTENT },
                { "content", no_argument, NULL, ARG_CONTENT },
                { "progress", no_argument, NULL, ARG_PROGRESS },
                { "no-progress", no_argument, NULL, ARG_NO_PROGRESS },
                { "remove-target", no_argument, NULL, ARG_REMOVE_TARGET },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "add-mount-dependency", no_argument, NULL, ARG_ADD_MOUNT_DEPENDENCY },
                { "include-containerd", no_argument, NULL, ARG_INCLUDE_CONTAINERD },
                { "containerd-root", required_argument, NULL, ARG_CONTAINERD_ROOT },
                {}
        };
        int c;
        unsigned given = 0;

        /* Options may come before or after the command word. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hynj:", options, NULL)) >= 0) {
                for (size_t i = 0; i < ELEMENTSOF(options) - 1; i++)
                        if (options[i].val == c)
                                given |= 1u << i;
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("docker-dataroot %s\n", PROJECT_VERSION);
                        return 0;
                case 'y':
                        arg_yes = true;
                        break;
                case 'n':
                        arg_dry_run = true;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'j':
                        if (parse_jobs(optarg, &arg_jobs) < 0) {
                                fprintf(stderr, "Invalid --jobs '%s': expected a number from 1 to 256.\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                case ARG_VERIFY_CONTENT:
                        arg_verify_content = true;
                        break;
                case ARG_CONTENT:
                        arg_content = true;
                        break;
                case ARG_PROGRESS:
                        arg_progress = 1;
                        break;
                case ARG_NO_PROGRESS:
                        arg_progress = 0;
                        break;
                case ARG_ADD_MOUNT_DEPENDENCY:
                        arg_add_mount_dependency = true;
                        break;
                case ARG_REMOVE_TARGET:
                        arg_remove_target = true;
                        break;
                case ARG_INCLUDE_CONTAINERD:
                        arg_include_containerd = true;
                        break;
                case ARG_CONTAINERD_ROOT:
                        if (optarg[0] != '/') {
                                fprintf(stderr, "Invalid --containerd-root '%s': expected an absolute path.\n",
                                        optarg);
                                return -EINVAL;
                        }
                        arg_containerd_root = optarg;
                        break;
                case ARG_STATE_DIR:
                        if (optarg[0] != '/') {
                                fprintf(stderr, "Invalid --state-dir '%s': expected an absolute path.\n", optarg);
                                return -EINVAL;
                        }
                        arg_state_dir = optarg;
                        break;
                case ':':
                        fprintf(stderr, "Option '%s' needs an argument. See --help.\n", argv[optind - 1]);
                        return -EINVAL;
                default:
                        fprintf(stderr, "Unknown option '%s'. See --help.\n", argv[optind - 1]);
                        return -EINVAL;
                }
        }

        int n_args = argc - optind;
        if (n_args < 1) {
                fprintf(stderr, "Missing command (migrate, copy, verify, status, rollback or cleanup). "
                                "See --help.\n");
                return -EINVAL;
        }
        const char *command = argv[optind];
        size_t want;
        if (streq(command, "migrate")) {
                arg_command = COMMAND_MIGRATE;
                want = 1;
        } else if (streq(command, "copy")) {
                arg_command = COMMAND_COPY;
                want = 2;
        } else if (streq(command, "verify")) {
                arg_command = COMMAND_VERIFY;
                want = 2;
        } else if (streq(command, "status")) {
                arg_command = COMMAND_STATUS;
                want = 0;
        } else if (streq(command, "rollback")) {
                arg_command = COMMAND_ROLLBACK;
                want = 0;
        } else if (streq(command, "cleanup")) {
                arg_command = COMMAND_CLEANUP;
                want = 0;
        } else {
                fprintf(stderr, "Unknown command '%s'. See --help.\n", command);
                return -EINVAL;
        }
        if ((size_t) (n_args - 1) != want) {
                fprintf(stderr, "'%s' takes %s. See --help.\n", command,
                        want == 0   ? "no arguments"
                        : want == 1 ? "one argument: TARGET"
                                    : "two arguments: SRC DST");
                return -EINVAL;
        }
        for (size_t i = 0; i < want; i++) {
                arg_paths[i] = argv[optind + 1 + i];
                if (arg_paths[i][0] == 0) {
                        fprintf(stderr, "Empty path given to '%s'. See --help.\n", command);
                        return -EINVAL;
                }
        }

        /* An option a command does not take is a mistake, never ignored:
         * 'cleanup --dry-run' must not quietly delete. */
        static const struct {
                Command command;
                const char *const allowed[14];
        } takes[] = {
                { COMMAND_MIGRATE, { "yes", "dry-run", "json", "jobs", "config", "verify-content", "progress",
                                     "no-progress", "state-dir", "add-mount-dependency", "include-containerd",
                                     "containerd-root" } },
                { COMMAND_COPY, { "jobs", "progress", "no-progress" } },
                { COMMAND_VERIFY, { "content", "jobs" } },
                { COMMAND_STATUS, { "json", "config", "state-dir" } },
                { COMMAND_ROLLBACK, { "yes", "remove-target", "state-dir" } },
                { COMMAND_CLEANUP, { "yes", "state-dir" } },
        };
        for (size_t t = 0; t < ELEMENTSOF(takes); t++) {
                if (takes[t].command != arg_command)
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(options) - 1; i++) {
                        if (!(given & (1u << i)))
                                continue;
                        bool allowed = false;
                        for (size_t a = 0; a < ELEMENTSOF(takes[t].allowed) && takes[t].allowed[a]; a++)
                                if (streq(takes[t].allowed[a], options[i].name))
                                        allowed = true;
                        if (!allowed) {
                                fprintf(stderr, "'--%s' does not apply to '%s'. See --help.\n", options[i].name,
                                        command);
                                return -EINVAL;
                        }
                }
        }

        if (arg_containerd_root && !arg_include_containerd) {
                fprintf(stderr, "--containerd-root needs --include-containerd. See --help.\n");
                return -EINVAL;
        }

        if (arg_command == COMMAND_MIGRATE && arg_paths[0][0] != '/') {
                fprintf(stderr, "TARGET must be an absolute path, not '%s'. See --help.\n", arg_paths[0]);
                return -EINVAL;
        }

        bool asks = arg_command == COMMAND_MIGRATE || arg_command == COMMAND_ROLLBACK ||
                    arg_command == COMMAND_CLEANUP;
        if (asks && !arg_yes && !arg_dry_run && !isatty(STDIN_FILENO)) {
                fprintf(stderr, "Refusing to run without a terminal to ask on: pass --yes to %s "
                                "unattended%s.\n", command,
                        arg_command == COMMAND_MIGRATE ? ", or --dry-run to see the plan" : "");
                return -EINVAL;
        }

        return 1;
}

/* Paths from the trees may hold newlines or bytes that are not text;
 * escape them so every message stays one line. */
static void print_escaped(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '\\')
                        fputs("\\\\", f);
                else if (*p < 0x20 || *p >= 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        }
}

/* ---- progress ---- */

typedef struct ProgressDisplay {
        CopyProgress counters;
        uint64_t total_entries;
        uint64_t total_bytes;
        bool terminal;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool stop;
        bool running;
        bool line_open;   /* a \r line is on screen and needs a newline */
} ProgressDisplay;

static ProgressDisplay progress = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
};

static void progress_print(uint64_t start) {
        char done_buf[32], total_buf[32], rate_buf[32];
        uint64_t entries = atomic_load_explicit(&progress.counters.entries_done, memory_order_relaxed);
        uint64_t bytes = atomic_load_explicit(&progress.counters.bytes_done, memory_order_relaxed);
        double seconds = (double) (now_usec() - start) / 1e6;
        double rate = seconds > 0 ? (double) bytes / seconds : 0;
        char eta[32] = "?";

        if (rate > 0 && progress.total_bytes > bytes)
                snprintf(eta, sizeof eta, "%.0f s", (double) (progress.total_bytes - bytes) / rate);
        else if (progress.total_bytes <= bytes)
                snprintf(eta, sizeof eta, "0 s");

        fprintf(stderr, "%s%" PRIu64 "/%" PRIu64 " entries, %s/%s, %s/s, ETA %s%s",
                progress.terminal ? "\r\033[K" : "", entries, progress.total_entries,
                format_bytes(bytes, done_buf, sizeof done_buf),
                format_bytes(progress.total_bytes, total_buf, sizeof total_buf),
                format_bytes((uint64_t) rate, rate_buf, sizeof rate_buf), eta,
                progress.terminal ? "" : "\n");
        progress.line_open = progress.terminal;
}

static void *progress_thread(void *arg) {
        (void) arg;
        uint64_t start = now_usec();
        /* A log gets a line every few seconds, a terminal a live line. */
        uint64_t interval = progress.terminal ? 500000 : 5000000;

        pthread_mutex_lock(&progress.lock);
        while (!progress.stop) {
                struct timespec deadline;
                clock_gettime(CLOCK_REALTIME, &deadline);
                uint64_t ns = (uint64_t) deadline.tv_nsec + interval * 1000;
                deadline.tv_sec += (time_t) (ns / 1000000000);
                deadline.tv_nsec = (long) (ns % 1000000000);
                if (pthread_cond_timedwait(&progress.wake, &progress.lock, &deadline) == ETIMEDOUT &&
                    !progress.stop)
                        progress_print(start);
        }
        if (progress.terminal)
                progress_print(start);
        if (progress.line_open)
                fputc('\n', stderr);
        progress.line_open = false;
        pthread_mutex_unlock(&progress.lock);
        return NULL;
}

static void progress_start(uint64_t total_entries, uint64_t total_bytes) {
        if (arg_progress == 0)
                return;
        progress.total_entries = total_entries;
        progress.total_bytes = total_bytes;
        progress.terminal = isatty(STDERR_FILENO);
        progress.stop = false;
        progress.running = pthread_create(&progress.thread, NULL, progress_thread, NULL) == 0;
}

static void progress_finish(void) {
        if (!progress.running)
                return;
        pthread_mutex_lock(&progress.lock);
        progress.stop = true;
        pthread_cond_signal(&progress.wake);
        pthread_mutex_unlock(&progress.lock);
        pthread_join(progress.thread, NULL);
        progress.running = false;
}

/* Messages from worker threads must not be torn by the progress line. */
static void report_line(const char *verb, const char *relpath, const char *root, const char *detail) {
        pthread_mutex_lock(&progress.lock);
        if (progress.line_open) {
                fputc('\n', stderr);
                progress.line_open = false;
        }
        fprintf(stderr, "%s '", verb);
        if (root && !streq(relpath, ".")) {
                print_escaped(stderr, root);
                fputc('/', stderr);
                print_escaped(stderr, relpath);
        } else
                print_escaped(stderr, root ? root : relpath);
        fprintf(stderr, "': %s\n", detail);
        pthread_mutex_unlock(&progress.lock);
}

typedef struct ReportContext {
        const char *src_root;
        const char *dst_root;
} ReportContext;

static void on_copy_error(const char *relpath, const char *operation, int error, void *userdata) {
        ReportContext *ctx = userdata;
        _cleanup_free_ char *verb = strdup_printf("Failed to %s", operation);
        report_line(verb ? verb : "Failed to copy", relpath, ctx->src_root, strerror(-error));
}

static void on_copy_warning(const char *relpath, const char *operation, int error, void *userdata) {
        ReportContext *ctx = userdata;
        _cleanup_free_ char *verb = strdup_printf("Warning: could not %s", operation);
        report_line(verb ? verb : "Warning:", relpath, ctx->src_root, strerror(-error));
}

static void on_difference(const char *relpath, const char *what, const char *detail, void *userdata) {
        (void) userdata;
        pthread_mutex_lock(&progress.lock);
        if (progress.line_open) {
                fputc('\n', stderr);
                progress.line_open = false;
        }
        FILE *out = arg_command == COMMAND_VERIFY && !arg_json ? stdout : stderr;
        print_escaped(out, relpath);
        fprintf(out, ": %s%s%s\n", what, detail && *detail ? ": " : "", detail ? detail : "");
        pthread_mutex_unlock(&progress.lock);
}

/* ---- copy and verify ---- */

static int run_copy(void) {
        ReportContext ctx = { .src_root = arg_paths[0], .dst_root = arg_paths[1] };
        CopyOptions opts = {
                .jobs = arg_jobs,
                .on_error = on_copy_error,
                .on_warning = on_copy_warning,
                .userdata = &ctx,
                .progress = &progress.counters,
        };
        CopyStats stats = {};
        TreeSize size = {};
        int r;

        if (arg_progress != 0) {
                r = tree_size(arg_paths[0], &size);
                if (r < 0) {
                        fprintf(stderr, "Failed to read '%s': %s\n", arg_paths[0], strerror(-r));
                        return EXIT_ROLLED_BACK;
                }
                progress_start(size.entries, size.apparent_bytes);
        }
        uint64_t start = now_usec();
        r = copy_tree(arg_paths[0], arg_paths[1], &opts, &stats);
        progress_finish();
        double seconds = (double) (now_usec() - start) / 1e6;
        if (r < 0 && r != -EIO) {
                fprintf(stderr, "Failed to copy '%s' to '%s': %s\n", arg_paths[0], arg_paths[1], strerror(-r));
                return EXIT_ROLLED_BACK;
        }
        char bytes_buf[32];
        fprintf(stderr,
                "Copied %" PRIu64 " files, %" PRIu64 " directories, %" PRIu64 " symlinks, %" PRIu64
                " hardlinks, %" PRIu64 " special files, %s in %.1f s.\n",
                stats.regular_files, stats.directories, stats.symlinks, stats.hardlinks,
                stats.devices + stats.fifos + stats.sockets, format_bytes(stats.bytes, bytes_buf, sizeof bytes_buf),
                seconds);
        if (r == -EIO || stats.errors > 0) {
                fprintf(stderr, "%" PRIu64 " entries could not be copied faithfully (listed above).\n",
                        stats.errors);
                return EXIT_ROLLED_BACK;
        }
        return EXIT_DONE;
}

static int run_verify(void) {
        VerifyOptions opts = {
                .content = arg_content,
                .jobs = arg_jobs,
                .on_difference = on_difference,
        };
        VerifyStats stats = {};
        int r;

        r = verify_trees(arg_paths[0], arg_paths[1], &opts, &stats);
        if (r < 0) {
                fprintf(stderr, "Failed to compare '%s' with '%s': %s\n", arg_paths[0], arg_paths[1],
                        strerror(-r));
                return EXIT_USAGE;
        }
        fprintf(stderr, "Compared %" PRIu64 " entries%s: %" PRIu64 " difference(s).\n", stats.entries,
                arg_content ? " with content" : "", stats.differences);
        return stats.differences > 0 ? EXIT_ROLLED_BACK : EXIT_DONE;
}

/* ---- signals ---- */

/* SIGINT, SIGTERM and SIGHUP during a run must not leave Docker stopped:
 * they are blocked in every thread and taken by one thread that asks the
 * run to stop at its next safe point. */
static atomic_int cancel_signal = 0;
static sigset_t handled_signals;
static _Atomic(const char *) cancel_message = "stopping safely; Docker will be started again";

static void *signal_thread(void *arg) {
        (void) arg;
        for (;;) {
                int sig = 0;
                if (sigwait(&handled_signals, &sig) != 0)
                        continue;
                bool first = atomic_exchange(&cancel_signal, sig) == 0;
                pthread_mutex_lock(&progress.lock);
                if (progress.line_open) {
                        fputc('\n', stderr);
                        progress.line_open = false;
                }
                fprintf(stderr, "%s: %s\n", strsignal(sig), first ? cancel_message : "still finishing safely; please wait");
                pthread_mutex_unlock(&progress.lock);
        }
        return NULL;
}

static void take_over_signals(void) {
        pthread_t thread;

        /* A closed pipe on stdout or stderr (| tee, a CI log) must not kill
         * the run while Docker is stopped: writes just fail. */
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&handled_signals);
        sigaddset(&handled_signals, SIGINT);
        sigaddset(&handled_signals, SIGTERM);
        sigaddset(&handled_signals, SIGHUP);
        if (pthread_sigmask(SIG_BLOCK, &handled_signals, NULL) != 0)
                return;
        if (pthread_create(&thread, NULL, signal_thread, NULL) == 0)
                pthread_detach(thread);
}

/* Deep trees are walked with one fd per level. */
static void raise_fd_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

/* ---- migrate ---- */

/* The progress line belongs to the copy alone: it ends before any other
 * stage speaks. */
static const TreeSize *copy_totals = NULL;

static void on_tree(const char *src_root, void *userdata) {
        ReportContext *ctx = userdata;
        ctx->src_root = src_root;
}

static void on_stage(MigrateStage stage, const char *what, void *userdata) {
        (void) userdata;
        if (stage == STAGE_DISCOVER || stage == STAGE_CHECK)
                return;
        progress_finish();
        if (stage == STAGE_CONFIGURE)
                cancel_message = "the copy is verified: finishing the migration first (seconds), not undoing it";
        fflush(stdout);
        fprintf(stderr, "==> %s: %s\n", migrate_stage_to_string(stage), what);
        if (stage == STAGE_COPY && copy_totals)
                progress_start(copy_totals->entries, copy_totals->apparent_bytes);
}

/* Prints text from column indent on, wrapped at 80 columns on spaces
 * (a word longer than a line, such as a path, stays whole). */
static void print_wrapped(FILE *f, const char *prefix, size_t indent, const char *text) {
        size_t column = strlen(prefix);
        fputs(prefix, f);
        for (; column < indent; column++)
                fputc(' ', f);

        const char *p = text;
        bool first = true;
        while (*p) {
                size_t word = strcspn(p, " ");
                if (!first && column + 1 + word > 79) {
                        fputc('\n', f);
                        for (column = 0; column < indent; column++)
                                fputc(' ', f);
                } else if (!first) {
                        fputc(' ', f);
                        column++;
                }
                fwrite(p, 1, word, f);
                column += word;
                first = false;
                p += word;
                p += strspn(p, " ");
        }
        fputc('\n', f);
}

static void print_plan(const MigratePlan *p, FILE *f) {
        bool refused = check_list_refused(&p->checks);
        char buf[32];

        fprintf(f, "Plan: move Docker's data-root\n");
        fprintf(f, "  source: %s", p->source ? p->source : "(unknown)");
        if (p->source && !p->nothing_to_do)
                fprintf(f, " (%" PRIu64 " entries, %s allocated)", p->source_size.entries,
                        format_bytes(p->source_size.allocated_bytes, buf, sizeof buf));
        fputc('\n', f);
        if (p->engine)
                fprintf(f, "  engine: Docker %s, driver %s, %ld image(s),\n"
                           "          %ld container(s), %ld running\n",
                        p->engine->server_version ? p->engine->server_version : "?",
                        p->engine->driver ? p->engine->driver : "?", p->engine->images,
                        p->engine->containers, p->engine->containers_running);
        fprintf(f, "  target: %s", p->target ? p->target : arg_paths[0]);
        if (p->target_fs.fstype)
                fprintf(f, "\n          (%s on %s, %s free)", p->target_fs.fstype,
                        p->target_fs.source ? p->target_fs.source : "?",
                        format_bytes(p->target_fs.free_bytes, buf, sizeof buf));
        fputc('\n', f);
        fprintf(f, "  config: %s\n", p->config_path ? p->config_path : "?");
        if (p->config && p->config->existed && !p->nothing_to_do && !refused)
                fprintf(f, "  backup: %s\n", p->backup_path);
        if (p->containerd && !p->nothing_to_do) {
                fprintf(f, "  containerd: %s", p->containerd_source ? p->containerd_source : "(unknown)");
                if (p->containerd_source)
                        fprintf(f, " (%" PRIu64 " entries, %s allocated)", p->containerd_size.entries,
                                format_bytes(p->containerd_size.allocated_bytes, buf, sizeof buf));
                fprintf(f, "\n          -> %s\n", p->containerd_target ? p->containerd_target : "?");
                fprintf(f, "          config %s\n", p->containerd_config_path ? p->containerd_config_path : "?");
                if (p->containerd_config && p->containerd_config->existed && !refused)
                        fprintf(f, "          backup %s\n", p->containerd_backup_path);
        }

        fprintf(f, "\nChecks:\n");
        for (size_t i = 0; i < p->checks.n; i++) {
                const CheckResult *c = &p->checks.items[i];
                char prefix[64];
                snprintf(prefix, sizeof prefix, "  %-8s %s", check_status_to_string(c->status), c->id);
                if (strlen(prefix) + 1 > 35) {
                        fprintf(f, "%s\n", prefix);
                        prefix[0] = 0;
                }
                print_wrapped(f, prefix, 35, c->evidence);
                if (c->status != CHECK_OK && c->remedy) {
                        _cleanup_free_ char *remedy = strdup_printf("-> %s", c->remedy);
                        if (remedy)
                                print_wrapped(f, "", 35, remedy);
                }
        }
        if (p->nothing_to_do || refused)
                return;

        if (p->containerd) {
                fprintf(f, "\nSteps:\n"
                           "  1. stop docker.socket, docker.service, then containerd.service;\n"
                           "     confirm no dockerd, containerd or shim is left\n"
                           "  2. copy %s to %s,\n"
                           "     %s to %s\n"
                           "     with %u workers\n"
                           "  3. verify both copies (%s)\n"
                           "  4. set \"root\" in %s%s;\n"
                           "     point the containers' volume mounts at the new root; set\n"
                           "     \"data-root\" in %s%s\n",
                        p->source ? p->source : "?", p->target ? p->target : "?",
                        p->containerd_source ? p->containerd_source : "?",
                        p->containerd_target ? p->containerd_target : "?", arg_jobs ? arg_jobs : copy_default_jobs(),
                        arg_verify_content || p->resume ? "metadata and content" : "metadata",
                        p->containerd_config_path ? p->containerd_config_path : "?",
                        p->containerd_config && p->containerd_config->existed ? ", after a backup" : "",
                        p->config_path ? p->config_path : "?",
                        p->config && p->config->existed ? ", after a backup" : "");
                if (arg_add_mount_dependency)
                        fprintf(f, "     write %s\n     (RequiresMountsFor=%s)\n     and %s\n     (RequiresMountsFor=%s)\n",
                                MOUNT_DROPIN_PATH, p->target ? p->target : "?", CONTAINERD_MOUNT_DROPIN_PATH,
                                p->containerd_target ? p->containerd_target : "?");
                fprintf(f, "  5. start containerd; confirm it runs from %s\n"
                           "  6. start Docker; confirm it reports %s\n"
                           "     with the same images and containers\n"
                           "  On a failure after step 1: restore config.toml and daemon.json,\n"
                           "  start containerd and Docker on %s and %s.\n"
                           "  Those directories themselves are never changed or removed.\n",
                        p->containerd_target ? p->containerd_target : "?", p->target ? p->target : "?",
                        p->containerd_source ? p->containerd_source : "?", p->source ? p->source : "?");
                return;
        }
        fprintf(f, "\nSteps:\n"
                   "  1. stop docker.socket and docker.service; confirm no dockerd is left\n"
                   "  2. copy %s to %s\n"
                   "     with %u workers\n"
                   "  3. verify the copy (%s)\n"
                   "  4. point the containers' volume mounts at the new root; set\n"
                   "     \"data-root\" in %s%s\n",
                p->source ? p->source : "?", p->target ? p->target : "?",
                arg_jobs ? arg_jobs : copy_default_jobs(),
                arg_verify_content || p->resume ? "metadata and content" : "metadata",
                p->config_path ? p->config_path : "?", p->config && p->config->existed ? ", after a backup" : "");
        if (arg_add_mount_dependency)
                fprintf(f, "     write %s\n     (RequiresMountsFor=%s)\n", MOUNT_DROPIN_PATH,
                        p->target ? p->target : "?");
        fprintf(f, "  5. start Docker; confirm it reports %s\n"
                   "     with the same images and containers\n"
                   "  On a failure after step 1: restore daemon.json and start Docker on\n"
                   "  %s. That directory itself is never changed or removed.\n",
                p->target ? p->target : "?", p->source ? p->source : "?");
}

static cJSON *plan_to_json(const MigratePlan *p) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        if (!root)
                return NULL;

        cJSON_AddStringToObject(root, "source", p->source ? p->source : "");
        cJSON_AddStringToObject(root, "target", p->target ? p->target : arg_paths[0]);
        cJSON_AddStringToObject(root, "config", p->config_path ? p->config_path : "");
        if (p->config && p->config->existed)
                cJSON_AddStringToObject(root, "backup", p->backup_path);
        cJSON_AddBoolToObject(root, "nothing_to_do", p->nothing_to_do);
        cJSON_AddBoolToObject(root, "refused", check_list_refused(&p->checks));

        cJSON *size = cJSON_AddObjectToObject(root, "source_size");
        if (size) {
                cJSON_AddNumberToObject(size, "entries", (double) p->source_size.entries);
                cJSON_AddNumberToObject(size, "inodes", (double) p->source_size.inodes);
                cJSON_AddNumberToObject(size, "apparent_bytes", (double) p->source_size.apparent_bytes);
                cJSON_AddNumberToObject(size, "allocated_bytes", (double) p->source_size.allocated_bytes);
        }
        if (p->target_fs.fstype) {
                cJSON *fs = cJSON_AddObjectToObject(root, "target_filesystem");
                if (fs) {
                        cJSON_AddStringToObject(fs, "type", p->target_fs.fstype);
                        cJSON_AddStringToObject(fs, "mountpoint", p->target_fs.mountpoint);
                        cJSON_AddStringToObject(fs, "source", p->target_fs.source ? p->target_fs.source : "");
                        cJSON_AddNumberToObject(fs, "free_bytes", (double) p->target_fs.free_bytes);
                }
        }
        if (p->containerd) {
                cJSON *c = cJSON_AddObjectToObject(root, "containerd");
                if (c) {
                        cJSON_AddStringToObject(c, "source", p->containerd_source ? p->containerd_source : "");
                        cJSON_AddStringToObject(c, "target", p->containerd_target ? p->containerd_target : "");
                        cJSON_AddStringToObject(c, "config",
                                                p->containerd_config_path ? p->containerd_config_path : "");
                        if (p->containerd_config && p->containerd_config->existed)
                                cJSON_AddStringToObject(c, "backup", p->containerd_backup_path);
                        cJSON_AddNumberToObject(c, "allocated_bytes", (double) p->containerd_size.allocated_bytes);
                        if (p->containerd_target_fs.fstype)
                                cJSON_AddStringToObject(c, "target_mountpoint", p->containerd_target_fs.mountpoint);
                }
        }
        cJSON *checks = cJSON_AddArrayToObject(root, "checks");
        for (size_t i = 0; checks && i < p->checks.n; i++) {
                const CheckResult *c = &p->checks.items[i];
                cJSON *item = cJSON_CreateObject();
                if (!item)
                        return NULL;
                cJSON_AddStringToObject(item, "id", c->id);
                cJSON_AddStringToObject(item, "status", check_status_to_string(c->status));
                cJSON_AddStringToObject(item, "evidence", c->evidence);
                if (c->remedy)
                        cJSON_AddStringToObject(item, "remedy", c->remedy);
                cJSON_AddItemToArray(checks, item);
        }
        return TAKE_PTR(root);
}

static void print_json(cJSON *doc) {
        _cleanup_free_ char *text = doc ? cJSON_Print(doc) : NULL;
        if (text)
                printf("%s\n", text);
        fflush(stdout);
}

static bool ask_to_proceed(const MigratePlan *p) {
        char line[64];

        if (p->engine && p->engine->containers_running > 0)
                printf("\n%ld running container(s) will be stopped.\n", p->engine->containers_running);
        printf("\nDocker stays stopped until the copy is verified and Docker restarts.\nProceed? [y/N] ");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin))
                return false;
        line[strcspn(line, "\r\n")] = 0;
        return answer_is_yes(line);
}

static void print_refusals(const MigratePlan *p) {
        for (size_t i = 0; i < p->checks.n; i++) {
                const CheckResult *c = &p->checks.items[i];
                if (c->status != CHECK_REFUSE)
                        continue;
                fprintf(stderr, "Refused (%s): %s\n", c->id, c->evidence);
                if (c->remedy)
                        fprintf(stderr, "  What to do: %s\n", c->remedy);
        }
        fprintf(stderr, "Nothing was changed.\n");
}

static bool confirm(const char *question);

static int run_migrate(void) {
        _cleanup_(migrate_plan_freep) MigratePlan *plan = NULL;
        ReportContext ctx = { .src_root = NULL };
        MigrateOptions opts = {
                .target = arg_paths[0],
                .config_path = arg_config,
                .jobs = arg_jobs,
                .verify_content = arg_verify_content,
                .on_stage = on_stage,
                .on_copy_error = on_copy_error,
                .on_copy_warning = on_copy_warning,
                .on_difference = on_difference,
                .on_tree = on_tree,
                .progress = &progress.counters,
                .userdata = &ctx,
                .include_containerd = arg_include_containerd,
                .containerd_root = arg_containerd_root,
        };
        MigrateResult result = {};
        _cleanup_(journal_freep) Journal *journal = NULL;
        int r;

        /* A dry run only looks; a real run holds the lock from the plan to
         * the end, so two runs never interleave. */
        if (geteuid() != 0 && !arg_dry_run) {
                fprintf(stderr, "Refused: migrate stops Docker and copies its data, which needs root. Run it with "
                                "sudo (or try --dry-run). Nothing was changed.\n");
                return EXIT_REFUSED;
        }
        r = journal_open(arg_state_dir, arg_dry_run, &journal);
        if (arg_dry_run && r == -EACCES)
                r = -ENOENT; /* a non-root dry run plans without the journal; the root check says why */
        if (r == -EBUSY) {
                fprintf(stderr, "Another docker-dataroot is running (it holds %s/%s); wait for it to "
                                "finish. Nothing was changed.\n", arg_state_dir, JOURNAL_LOCK_FILE);
                return EXIT_REFUSED;
        }
        if (r == -EBADMSG) {
                fprintf(stderr, "Failed to read '%s/%s': not valid JSON. Inspect it; move it away only if no "
                                "migration is pending. Nothing was changed.\n", arg_state_dir, JOURNAL_STATE_FILE);
                return EXIT_REFUSED;
        }
        if (r < 0 && !(arg_dry_run && r == -ENOENT)) {
                fprintf(stderr, "Failed to open '%s': %s. Nothing was changed.\n", arg_state_dir, strerror(-r));
                return EXIT_REFUSED;
        }
        opts.journal = journal;
        opts.cancel = &cancel_signal;

        r = migrate_plan(&opts, &plan);
        if (r < 0) {
                fprintf(stderr, "Failed to plan the migration to '%s': %s\n", arg_paths[0], strerror(-r));
                return EXIT_REFUSED;
        }
        ctx.src_root = plan->source;

        _cleanup_(cJSON_Deletep) cJSON *doc = arg_json ? plan_to_json(plan) : NULL;
        FILE *plan_out = arg_json ? stderr : stdout;
        if (!arg_json || arg_dry_run || check_list_refused(&plan->checks) || plan->nothing_to_do) {
                if (!arg_json)
                        print_plan(plan, plan_out);
        }

        if (check_list_refused(&plan->checks)) {
                if (arg_json)
                        print_json(doc);
                else
                        fputc('\n', stderr);
                print_refusals(plan);
                return EXIT_REFUSED;
        }
        if (plan->nothing_to_do) {
                if (arg_json)
                        print_json(doc);
                else
                        printf("\n%s already is Docker's data-root; nothing to do.\n", plan->target);
                return EXIT_DONE;
        }
        if (arg_dry_run) {
                if (arg_json)
                        print_json(doc);
                else
                        printf("\nDry run: nothing was changed.\n");
                return EXIT_DONE;
        }
        if (!arg_yes && !ask_to_proceed(plan)) {
                fprintf(stderr, "Aborted; nothing was changed.\n");
                return EXIT_REFUSED;
        }
        const CheckResult *boot = check_list_find(&plan->checks, "target-boot-mount");
        const CheckResult *containerd_boot = check_list_find(&plan->checks, "containerd-target-boot-mount");
        bool boot_warns = (boot && boot->status == CHECK_WARN) ||
                          (containerd_boot && containerd_boot->status == CHECK_WARN);
        if (!arg_yes && !arg_add_mount_dependency && boot_warns) {
                _cleanup_free_ char *question = strdup_printf(
                        "%s is not mounted at boot by fstab. Make %s wait for it with a "
                        "RequiresMountsFor= drop-in?",
                        boot && boot->status == CHECK_WARN ? plan->target_fs.mountpoint : plan->containerd_target,
                        plan->containerd ? "docker.service and containerd.service" : "docker.service");
                if (question && confirm(question))
                        arg_add_mount_dependency = true;
        }
        opts.add_mount_dependency = arg_add_mount_dependency;
        fflush(stdout);

        take_over_signals();
        /* One progress line over both trees. */
        TreeSize totals = plan->source_size;
        if (plan->containerd) {
                totals.entries += plan->containerd_size.entries;
                totals.apparent_bytes += plan->containerd_size.apparent_bytes;
        }
        copy_totals = &totals;
        r = migrate_execute(plan, &opts, &result);
        progress_finish();

        int exit_code;
        if (result.outcome == MIGRATE_DONE && r >= 0) {
                char bytes_buf[32];
                if (result.copy_stats.kept > 0)
                        fprintf(stderr, "\nThe resumed copy kept %" PRIu64 " complete entries from the interrupted "
                                        "run and verified all content.\n", result.copy_stats.kept);
                /* A resume past the verification did not verify again. */
                bool verified_before = plan->resume && result.verify_stats.entries == 0;
                if (verified_before)
                        fprintf(stderr, "\nDocker now runs from %s (copied and verified by the interrupted run).\n",
                                plan->target);
                else
                        fprintf(stderr, "\nDocker now runs from %s (verified: %" PRIu64 " entries, %s copied in %.1f s).\n",
                                plan->target, result.verify_stats.entries,
                                format_bytes(result.copy_stats.bytes, bytes_buf, sizeof bytes_buf),
                                (double) result.copy_usec / 1e6);
                fprintf(stderr,
                        "The old data-root %s was left untouched; once you are satisfied, remove it with\n"
                        "'docker-dataroot cleanup'.\n", plan->source);
                if (plan->config->existed)
                        fprintf(stderr, "The previous daemon.json is saved as %s.\n", plan->backup_path);
                if (plan->containerd) {
                        if (verified_before)
                                fprintf(stderr, "containerd now runs from %s (verified by the interrupted run).",
                                        plan->containerd_target);
                        else
                                fprintf(stderr, "containerd now runs from %s (verified: %" PRIu64 " entries).",
                                        plan->containerd_target, result.containerd_verify_stats.entries);
                        fprintf(stderr,
                                " Its old root %s was\n"
                                "left untouched; 'cleanup' does not remove it: once you are satisfied, remove it by\n"
                                "hand (after checking that %s names nothing below it any more).\n",
                                plan->containerd_source, plan->containerd_config_path);
                        if (plan->containerd_config->existed)
                                fprintf(stderr, "The previous config.toml is saved as %s.\n",
                                        plan->containerd_backup_path);
                }
                if (opts.add_mount_dependency)
                        fprintf(stderr, "docker.service now waits for %s to be mounted (%s).\n",
                                plan->target_fs.mountpoint ? plan->target_fs.mountpoint : plan->target,
                                MOUNT_DROPIN_PATH);
                if (opts.add_mount_dependency && plan->containerd)
                        fprintf(stderr, "containerd.service now waits for the mount holding %s (%s).\n",
                                plan->containerd_target, CONTAINERD_MOUNT_DROPIN_PATH);
                exit_code = EXIT_DONE;
        } else if (result.outcome == MIGRATE_INTERRUPTED) {
                fprintf(stderr, "\n%s (during %s).\n", result.message ? result.message : strerror(-r),
                        migrate_stage_to_string(result.failed_stage));
                fprintf(stderr, "Docker runs on %s again; daemon.json is as it was; nothing was lost.\n"
                                "To finish the move later, run the same command again: "
                                "docker-dataroot migrate %s%s%s%s\n"
                                "To drop it instead: docker-dataroot rollback --remove-target\n",
                        plan->source, plan->containerd ? "--include-containerd --containerd-root " : "",
                        plan->containerd ? plan->containerd_target : "", plan->containerd ? " " : "", plan->target);
                if (plan->containerd)
                        fprintf(stderr, "containerd runs on %s again; config.toml is as it was.\n",
                                plan->containerd_source);
                exit_code = EXIT_ROLLED_BACK;
        } else if (result.outcome == MIGRATE_ROLLED_BACK) {
                fprintf(stderr, "\n%s (during %s).\n", result.message ? result.message : strerror(-r),
                        migrate_stage_to_string(result.failed_stage));
                fprintf(stderr, "Rolled back: Docker runs on %s again, daemon.json is as it was; nothing "
                                "was lost.\n", plan->source);
                if (plan->containerd)
                        fprintf(stderr, "containerd runs on %s again; config.toml is as it was.\n",
                                plan->containerd_source);
                if (result.target_written)
                        fprintf(stderr, "The incomplete copy at %s was left in place; remove it before "
                                        "trying again.\n", plan->target);
                if (result.target_written && plan->containerd)
                        fprintf(stderr, "So was the copy of containerd's root at %s, if the copy got there.\n",
                                plan->containerd_target);
                exit_code = EXIT_ROLLED_BACK;
        } else {
                fprintf(stderr, "\n%s (during %s).\n", result.message ? result.message : strerror(-r),
                        migrate_stage_to_string(result.failed_stage));
                fprintf(stderr, "The rollback failed too: %s\n",
                        result.rollback_message ? result.rollback_message : "unknown state");
                fprintf(stderr, "The old data-root %s is intact.\n", plan->source);
                exit_code = EXIT_STUCK;
        }

        if (arg_json && doc) {
                cJSON *res = cJSON_AddObjectToObject(doc, "result");
                if (res) {
                        static const char *const outcomes[] = { "done", "rolled-back", "rollback-failed",
                                                                "interrupted" };
                        cJSON_AddStringToObject(res, "outcome", outcomes[result.outcome]);
                        cJSON_AddNumberToObject(res, "exit_code", exit_code);
                        if (result.outcome != MIGRATE_DONE) {
                                cJSON_AddStringToObject(res, "failed_stage",
                                                        migrate_stage_to_string(result.failed_stage));
                                cJSON_AddStringToObject(res, "message", result.message ? result.message : "");
                        }
                        if (result.rollback_message)
                                cJSON_AddStringToObject(res, "rollback_message", result.rollback_message);
                        cJSON_AddNumberToObject(res, "copied_bytes", (double) result.copy_stats.bytes);
                        cJSON_AddNumberToObject(res, "verified_entries", (double) result.verify_stats.entries);
                }
                print_json(doc);
        }
        migrate_result_done(&result);
        return exit_code;
}

/* ---- rollback, cleanup, status ---- */

static void on_remove_error(const char *relpath, const char *operation, int error, void *userdata) {
        report_line(operation, relpath, userdata, strerror(-error));
}

static int open_locked_journal(Journal **ret) {
        int r = journal_open(arg_state_dir, false, ret);
        if (r == -EBUSY)
                fprintf(stderr, "Another docker-dataroot is running (it holds %s/%s); wait for it to finish.\n",
                        arg_state_dir, JOURNAL_LOCK_FILE);
        else if (r < 0)
                fprintf(stderr, "Failed to open '%s': %s\n", arg_state_dir, strerror(-r));
        else if (!journal_state(*ret)) {
                fprintf(stderr, "No migration is recorded in %s; nothing to do.\n", arg_state_dir);
                return -ENOENT;
        }
        return r;
}

/* What the journal says about the last migration; the strings belong to
 * the journal. */
typedef struct RecordedMigration {
        const char *outcome;
        const char *source;
        const char *target;
        const char *config;
        const char *backup;
        bool config_existed;
        /* containerd's part; containerd_source NULL when it did not move */
        const char *containerd_source;
        const char *containerd_target;
        const char *containerd_config;
        const char *containerd_backup;
        bool containerd_config_existed;
} RecordedMigration;

static int load_recorded(const Journal *journal, bool need_config, RecordedMigration *ret) {
        RecordedMigration m = {
                .outcome = journal_get_string(journal, "outcome"),
                .source = journal_get_string(journal, "source"),
                .target = journal_get_string(journal, "target"),
                .config = journal_get_string(journal, "config"),
                .backup = journal_get_string(journal, "backup"),
                .config_existed = journal_get_bool(journal, "config_existed"),
                .containerd_source = journal_get_string(journal, "containerd_source"),
                .containerd_target = journal_get_string(journal, "containerd_target"),
                .containerd_config = journal_get_string(journal, "containerd_config"),
                .containerd_backup = journal_get_string(journal, "containerd_backup"),
                .containerd_config_existed = journal_get_bool(journal, "containerd_config_existed"),
        };
        if (m.containerd_source && (!m.containerd_target || !m.containerd_config ||
                                    (m.containerd_config_existed && !m.containerd_backup))) {
                fprintf(stderr, "Failed to read '%s': a field of containerd's part is missing. Nothing was "
                                "changed.\n", journal_path(journal));
                return -EBADMSG;
        }
        if (!m.outcome || !m.source || !m.target ||
            (need_config && (!m.config || (m.config_existed && !m.backup)))) {
                fprintf(stderr, "Failed to read '%s': a field is missing. Nothing was changed.\n",
                        journal_path(journal));
                return -EBADMSG;
        }
        *ret = m;
        return 0;
}

static bool confirm(const char *question) {
        char line[64];

        if (arg_yes)
                return true;
        printf("%s [y/N] ", question);
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin))
                return false;
        line[strcspn(line, "\r\n")] = 0;
        return answer_is_yes(line);
}

/* Removing one of two directories must not touch the other, whatever
 * bind mounts or symlinks join them. */
static int refuse_if_entangled(const char *doomed, const char *keep) {
        int below = path_inode_same_or_below(keep, doomed);
        int above = path_inode_same_or_below(doomed, keep);
        if (below == 0 && above == 0)
                return 0;
        if (below < 0 || above < 0)
                fprintf(stderr, "Refused: cannot tell whether %s and %s overlap (%s). Nothing was changed.\n",
                        doomed, keep, strerror(-(below < 0 ? below : above)));
        else
                fprintf(stderr, "Refused: %s and %s are the same directory or one holds the other (a bind mount "
                                "or a symlink joins them); removing %s would remove data Docker uses. Nothing "
                                "was changed.\n", doomed, keep, doomed);
        return -EBUSY;
}

/* Docker must not be using the tree about to go, by the engine's word and
 * by daemon.json's. */
static int refuse_if_in_use(const char *doomed) {
        _cleanup_(engine_info_freep) EngineInfo *info = NULL;
        _cleanup_(daemon_config_freep) DaemonConfig *config = NULL;
        _cleanup_free_ char *socket_path = NULL;
        DaemonConfigError error = {};
        const char *configured = NULL;

        if (engine_socket_path(&socket_path) >= 0 && engine_get_info(socket_path, &info) >= 0 && info->root_dir &&
            path_is_same_or_below(doomed, info->root_dir)) {
                fprintf(stderr, "Refused: the running Docker engine uses %s. Nothing was changed.\n", info->root_dir);
                return -EBUSY;
        }
        int r = daemon_config_load(arg_config ? arg_config : DAEMON_CONFIG_DEFAULT_PATH, &config, &error);
        if (r >= 0 && daemon_config_get_data_root(config, &configured) > 0 && path_is_same_or_below(doomed, configured)) {
                fprintf(stderr, "Refused: %s names %s as Docker's data-root. Nothing was changed.\n", config->path,
                        configured);
                return -EBUSY;
        }
        return 0;
}

static bool exists(const char *path) {
        struct stat st;
        return !(stat(path, &st) < 0 && errno == ENOENT);
}

/* containerd must not be using the tree about to go: no process of it holds
 * a file there, and config.toml (restored by now) names another root. */
static int refuse_if_containerd_uses(const char *doomed, const char *config_path) {
        _cleanup_(containerd_config_freep) ContainerdConfig *config = NULL;
        ContainerdConfigError error = {};
        pid_t pid = 0;

        int r = migrate_containerd_uses(doomed, &pid);
        if (r > 0) {
                fprintf(stderr, "Refused: containerd (pid %d) holds files open below %s. Nothing was removed.\n",
                        (int) pid, doomed);
                return -EBUSY;
        }
        if (r < 0 && r != -ESRCH) {
                fprintf(stderr, "Refused: cannot tell whether containerd uses %s (%s). Nothing was removed.\n",
                        doomed, strerror(-r));
                return r;
        }
        r = containerd_config_load(config_path, &config, &error);
        if (r < 0) {
                fprintf(stderr, "Refused: cannot read %s to see which root containerd uses (%s). Nothing was "
                                "removed.\n", config_path, r == -EBADMSG ? error.message : strerror(-r));
                return r;
        }
        _cleanup_free_ char *root = NULL;
        if (containerd_config_normalized_root(config, &root) < 0) {
                fprintf(stderr, "Refused: %s names containerd's root as '%s', which cannot be compared with %s. "
                                "Nothing was removed.\n", config_path, containerd_config_effective_root(config), doomed);
                return -EINVAL;
        }
        if (path_is_same_or_below(doomed, root)) {
                fprintf(stderr, "Refused: %s names %s as containerd's root. Nothing was removed.\n", config_path,
                        root);
                return -EBUSY;
        }
        return 0;
}

/* --remove-target deletes only copies nothing but the migration wrote to:
 * after a reboot at the wrong moment (daemon.json or config.toml already
 * naming the new roots), or a kill after the migration started the daemons
 * there, a daemon ran from its copy, and what it wrote exists nowhere else. */
static int refuse_if_targets_written(const Journal *journal, const RecordedMigration *m, const char *outcome) {
        _cleanup_(engine_info_freep) EngineInfo *info = NULL;
        _cleanup_free_ char *socket_path = NULL;
        const char *engine_root = NULL;

        if (engine_socket_path(&socket_path) >= 0 && engine_get_info(socket_path, &info) >= 0)
                engine_root = info->root_dir;
        /* An earlier rollback passed these checks and began removing: only
         * a daemon running there now counts. */
        bool removing = journal_get_string(journal, "removing_copies");
        const struct {
                const char *daemon, *root, *evidence;
                int ran;
        } copies[] = {
                { "Docker", m->target, "the engine reports it, or the top of the tree changed",
                  removing ? engine_root && streq(engine_root, m->target)
                           : migrate_docker_ran_from(journal, m->target, engine_root) },
                { "containerd", m->containerd_target, "it runs there, or its metadata database changed",
                  !m->containerd_source ? 0
                  : removing            ? migrate_containerd_uses(m->containerd_target, NULL) > 0
                                        : migrate_containerd_ran_from(journal, m->containerd_target) },
        };
        for (size_t i = 0; i < ELEMENTSOF(copies); i++) {
                if (copies[i].ran < 0) {
                        fprintf(stderr, "Refused: cannot tell whether %s ran from %s since the migration stopped it "
                                        "(%s). %s\n", copies[i].daemon, copies[i].root,
                                strerror(-copies[i].ran), outcome);
                        return copies[i].ran;
                }
                if (copies[i].ran > 0) {
                        fprintf(stderr, "Refused: %s ran from %s since the migration stopped it (%s): it may hold "
                                        "data that exists nowhere else, which --remove-target would delete. Roll "
                                        "back without it, keep what you need of %s, and remove it by hand. "
                                        "%s\n", copies[i].daemon, copies[i].root,
                                copies[i].evidence, copies[i].root, outcome);
                        return -EBUSY;
                }
        }
        return 0;
}

/* Removes the copy a rolled back migration left at target, once the
 * checks that it may go have passed. */
static int remove_copy(const char *target) {
        RemoveStats stats = {};
        fprintf(stderr, "==> removing the copy at %s\n", target);
        int r = remove_tree(target, false, on_remove_error, (void *) target, &stats);
        if (r == -ENOENT) {
                printf("%s does not exist; nothing to remove.\n", target);
                return EXIT_DONE;
        }
        if (r < 0) {
                fprintf(stderr, "Failed to remove '%s' completely: %s (%" PRIu64 " entries left, listed above).\n",
                        target, strerror(-r), stats.errors);
                return EXIT_ROLLED_BACK;
        }
        printf("Removed %" PRIu64 " entries of the copy at %s.\n", stats.entries, target);
        return EXIT_DONE;
}

static int run_rollback(void) {
        _cleanup_(journal_freep) Journal *journal = NULL;
        RecordedMigration m;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *message = NULL;
        int r;

        if (open_locked_journal(&journal) < 0 || load_recorded(journal, true, &m) < 0)
                return EXIT_REFUSED;
        const char *outcome = m.outcome, *source = m.source, *target = m.target, *config = m.config,
                   *backup = m.backup;
        bool existed = m.config_existed;
        if (streq(outcome, "rolled-back") && !arg_remove_target) {
                printf("The migration to %s was already rolled back; Docker's data-root is %s.\n", target, source);
                return EXIT_DONE;
        }
        if (streq(outcome, "cleaned-up")) {
                fprintf(stderr, "Refused: the old data-root %s was removed by 'cleanup' after the migration; there "
                                "is nothing to go back to. Nothing was changed.\n", source);
                return EXIT_REFUSED;
        }
        bool finished = streq(outcome, "done");
        if (finished && arg_remove_target) {
                fprintf(stderr, "Refused: %s holds Docker's data since the migration, newer than %s; "
                                "--remove-target would delete it. Roll back without it. Nothing was changed.\n",
                        target, source);
                return EXIT_REFUSED;
        }
        if (arg_remove_target && refuse_if_targets_written(journal, &m, "Nothing was changed.") < 0)
                return EXIT_REFUSED;

        if (streq(outcome, "rolled-back"))
                printf("The migration %s -> %s was already rolled back; remove the copy at %s.\n", source, target,
                       target);
        else
                printf("Roll back the migration %s -> %s (%s):\n"
                       "  restore %s%s, restart Docker on %s%s.\n",
                       source, target, outcome, config, existed ? " from its backup" : " (remove it: it did not exist)",
                       source, arg_remove_target ? ", then remove the copy at the target" : "");
        if (m.containerd_source && !streq(outcome, "rolled-back"))
                printf("  restore %s%s, restart containerd on %s%s.\n", m.containerd_config,
                       m.containerd_config_existed ? " from its backup" : " (remove it: it did not exist)",
                       m.containerd_source, arg_remove_target ? ", then remove the copy of its root" : "");
        if (finished && m.containerd_source)
                printf("  Warning: whatever Docker and containerd wrote since the migration (images, containers,\n"
                       "  volume data) is in %s and %s only and will not be visible after\n"
                       "  the rollback; it stays there.\n", target, m.containerd_target);
        else if (finished)
                printf("  Warning: whatever Docker wrote since the migration (images, containers, volume data)\n"
                       "  is in %s only and will not be visible after the rollback; it stays there.\n", target);
        if (!confirm("Proceed?")) {
                fprintf(stderr, "Aborted; nothing was changed.\n");
                return EXIT_REFUSED;
        }

        cancel_message = "finishing the rollback first, so Docker is not left stopped";
        take_over_signals();
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "Failed to connect to the system bus: %s. Nothing was changed.\n", strerror(-r));
                return EXIT_REFUSED;
        }
        if (!streq(outcome, "rolled-back")) {
                fprintf(stderr, "==> rollback: restoring %s and restarting Docker on %s\n", config, source);
                ContainerdRestore containerd = {
                        .config_path = m.containerd_config,
                        .config_existed = m.containerd_config_existed,
                        .backup_path = m.containerd_backup,
                        .root = m.containerd_source,
                        .moved_root = m.containerd_target,
                        .mount_dropin = journal_get_string(journal, "containerd_mount_dropin"),
                };
                if (m.containerd_source)
                        fprintf(stderr, "==> rollback: restoring %s and restarting containerd on %s\n",
                                m.containerd_config, m.containerd_source);
                r = migrate_restore(bus, config, existed, backup, journal_get_string(journal, "mount_dropin"),
                                    source, m.containerd_source ? &containerd : NULL, 0, &message);
                if (r < 0) {
                        (void) journal_finish(journal, "rollback-failed");
                        fprintf(stderr, "%s\n", message ? message : strerror(-r));
                        return EXIT_STUCK;
                }
                r = journal_finish(journal, "rolled-back");
                if (r < 0)
                        fprintf(stderr, "Warning: failed to record the rollback in '%s': %s\n",
                                journal_path(journal), strerror(-r));
        }
        printf("Docker runs on %s again.\n", source);
        if (m.containerd_source)
                printf("containerd runs on %s again.\n", m.containerd_source);

        if (!arg_remove_target) {
                printf("The copy at %s was left in place; remove it with 'docker-dataroot rollback "
                       "--remove-target' or by hand.\n", target);
                if (m.containerd_source)
                        printf("So was the copy of containerd's root at %s.\n", m.containerd_target);
                return EXIT_DONE;
        }
        /* Every check for both copies before either is touched; the first
         * ones again, as the prompt may have waited. */
        if (refuse_if_targets_written(journal, &m, "The rollback is done; nothing was removed.") < 0)
                return EXIT_REFUSED;
        bool docker_copy = exists(target), containerd_copy = m.containerd_source && exists(m.containerd_target);
        if (docker_copy && (refuse_if_in_use(target) < 0 || refuse_if_entangled(target, source) < 0 ||
                            (m.containerd_source && refuse_if_entangled(target, m.containerd_source) < 0)))
                return EXIT_REFUSED;
        if (containerd_copy &&
            (refuse_if_in_use(m.containerd_target) < 0 ||
             refuse_if_containerd_uses(m.containerd_target, m.containerd_config) < 0 ||
             refuse_if_entangled(m.containerd_target, m.containerd_source) < 0 ||
             refuse_if_entangled(m.containerd_target, source) < 0))
                return EXIT_REFUSED;

        /* A removal cut short changes the tops the marks were taken of:
         * once the checks passed and removing began, a rerun goes on. */
        r = journal_set_string(journal, "removing_copies", "yes");
        if (r < 0) {
                fprintf(stderr, "Failed to record the removal in '%s': %s. The rollback is done; nothing was "
                                "removed.\n", journal_path(journal), strerror(-r));
                return EXIT_STUCK;
        }
        r = EXIT_DONE;
        if (docker_copy)
                r = remove_copy(target);
        else
                printf("%s does not exist; nothing to remove.\n", target);
        if (r != EXIT_DONE || !m.containerd_source)
                return r;
        if (!containerd_copy) {
                printf("%s does not exist; nothing to remove.\n", m.containerd_target);
                return EXIT_DONE;
        }
        return remove_copy(m.containerd_target);
}

static int run_cleanup(void) {
        _cleanup_(journal_freep) Journal *journal = NULL;
        RecordedMigration m;
        _cleanup_(engine_info_freep) EngineInfo *info = NULL;
        _cleanup_free_ char *socket_path = NULL;
        int r;

        if (open_locked_journal(&journal) < 0 || load_recorded(journal, false, &m) < 0)
                return EXIT_REFUSED;
        const char *outcome = m.outcome, *source = m.source, *target = m.target;
        if (streq(outcome, "cleaned-up")) {
                printf("The old data-root %s was already removed.\n", source);
                return EXIT_DONE;
        }
        if (!streq(outcome, "done")) {
                fprintf(stderr, "Refused: the last migration (%s -> %s) is '%s', not done and verified; the old "
                                "data-root is all there is. Nothing was changed.\n", source, target, outcome);
                return EXIT_REFUSED;
        }

        r = engine_socket_path(&socket_path);
        if (r >= 0)
                r = engine_get_info(socket_path, &info);
        if (r < 0 || !info->root_dir || !streq(info->root_dir, target)) {
                fprintf(stderr, "Refused: Docker must be running on %s before the old data-root is removed (%s). "
                                "Nothing was changed.\n", target,
                        r < 0 ? strerror(-r) : info->root_dir ? info->root_dir : "no data-root reported");
                return EXIT_REFUSED;
        }

        struct stat source_st;
        if (stat(source, &source_st) < 0 && errno == ENOENT) {
                r = journal_finish(journal, "cleaned-up");
                printf("The old data-root %s is already gone.\n", source);
                return r < 0 ? EXIT_ROLLED_BACK : EXIT_DONE;
        }
        if (refuse_if_in_use(source) < 0 || refuse_if_entangled(source, target) < 0)
                return EXIT_REFUSED;

        int stale = containers_count_sources_below(target, source);
        if (stale != 0) {
                fprintf(stderr, "Refused: %s of the containers on %s still name volume paths under %s%s%s. "
                                "Nothing was changed.\n", stale > 0 ? "some" : "the mounts", target, source,
                        stale < 0 ? ": " : "", stale < 0 ? strerror(-stale) : "");
                return EXIT_REFUSED;
        }

        printf("Remove the old data-root %s? Docker runs on %s, verified after the copy.\n", source, target);
        if (!confirm("This cannot be undone. Proceed?")) {
                fprintf(stderr, "Aborted; nothing was changed.\n");
                return EXIT_REFUSED;
        }
        RemoveStats stats = {};
        fprintf(stderr, "==> cleanup: removing %s\n", source);
        r = remove_tree(source, false, on_remove_error, (void *) source, &stats);
        if (r < 0 && r != -ENOENT) {
                fprintf(stderr, "Failed to remove '%s' completely: %s (%" PRIu64 " entries left, listed above).\n",
                        source, strerror(-r), stats.errors);
                return EXIT_ROLLED_BACK;
        }
        r = journal_finish(journal, "cleaned-up");
        if (r < 0)
                fprintf(stderr, "Warning: failed to record the cleanup in '%s': %s\n", journal_path(journal),
                        strerror(-r));
        struct stat st;
        if (stat(source, &st) == 0)
                printf("Emptied the old data-root %s (%" PRIu64 " entries); the directory itself was kept "
                       "because it is a mount point.\n", source, stats.entries);
        else
                printf("Removed the old data-root %s (%" PRIu64 " entries).\n", source, stats.entries);
        if (m.containerd_source)
                printf("containerd's old root %s was left in place: config.toml may still name paths below it. "
                       "Remove it by hand once nothing uses it.\n", m.containerd_source);
        return EXIT_DONE;
}

static int run_status(void) {
        _cleanup_(engine_info_freep) EngineInfo *info = NULL;
        _cleanup_(daemon_config_freep) DaemonConfig *config = NULL;
        _cleanup_(journal_freep) Journal *journal = NULL;
        _cleanup_(mount_info_freep) MountInfo *mount = NULL;
        _cleanup_free_ char *socket_path = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        DaemonConfigError config_error = {};
        const char *config_path = arg_config ? arg_config : DAEMON_CONFIG_DEFAULT_PATH;
        const char *configured = NULL;
        TreeSize size = {};
        int r;

        if (!doc)
                return EXIT_ROLLED_BACK;

        r = engine_socket_path(&socket_path);
        if (r >= 0)
                r = engine_get_info(socket_path, &info);
        int config_r = daemon_config_load(config_path, &config, &config_error);
        if (config_r >= 0)
                config_r = daemon_config_get_data_root(config, &configured);
        int journal_r = journal_open(arg_state_dir, true, &journal);

        const char *root = info ? info->root_dir : configured ? configured : "/var/lib/docker";
        bool have_size = tree_size(root, &size) >= 0;
        bool have_mount = mounts_find(NULL, root, &mount) >= 0;

        cJSON_AddStringToObject(doc, "data_root", root);
        cJSON_AddBoolToObject(doc, "engine_running", info != NULL);
        if (info && info->driver)
                cJSON_AddStringToObject(doc, "driver", info->driver);
        cJSON_AddStringToObject(doc, "config", config_path);
        if (config_r < 0)
                cJSON_AddStringToObject(doc, "config_error", config_r == -EBADMSG ? config_error.message
                                                                                   : strerror(-config_r));
        cJSON_AddStringToObject(doc, "configured_data_root", configured ? configured : "");
        if (have_size)
                cJSON_AddNumberToObject(doc, "allocated_bytes", (double) size.allocated_bytes);
        if (have_mount) {
                cJSON_AddStringToObject(doc, "filesystem", mount->fstype);
                cJSON_AddStringToObject(doc, "mountpoint", mount->mountpoint);
        }

        const char *leftover = NULL;
        if (journal_r >= 0 && journal_state(journal)) {
                const char *outcome = journal_get_string(journal, "outcome");
                const char *source = journal_get_string(journal, "source");
                cJSON *last = cJSON_AddObjectToObject(doc, "last_migration");
                if (last) {
                        cJSON_AddStringToObject(last, "source", source ? source : "");
                        cJSON_AddStringToObject(last, "target", journal_get_string(journal, "target") ?: "");
                        cJSON_AddStringToObject(last, "outcome", outcome ? outcome : "");
                        cJSON_AddStringToObject(last, "stage", journal_get_string(journal, "stage") ?: "");
                        cJSON_AddStringToObject(last, "updated", journal_get_string(journal, "updated") ?: "");
                }
                struct stat st;
                if (outcome && streq(outcome, "done") && source && stat(source, &st) == 0)
                        leftover = source;
        }
        cJSON_AddStringToObject(doc, "old_tree", leftover ? leftover : "");

        if (arg_json) {
                print_json(doc);
                return EXIT_DONE;
        }

        char buf[32];
        printf("Docker data-root: %s (%s)\n", root,
               info ? "reported by the running engine" : "engine not answering; from daemon.json");
        if (info)
                printf("Storage driver:   %s\n", info->driver ? info->driver : "?");
        if (config_r == -EBADMSG)
                printf("daemon.json:      %s is invalid: %s\n", config_path, config_error.message);
        else
                printf("Configured in:    %s%s%s\n", config_path, configured ? ": " : " (default, no data-root set)",
                       configured ? configured : "");
        if (have_size)
                printf("Size:             %s allocated in %" PRIu64 " entries\n",
                       format_bytes(size.allocated_bytes, buf, sizeof buf), size.entries);
        if (have_mount)
                printf("Filesystem:       %s on %s, mounted at %s\n", mount->fstype,
                       mount->source ? mount->source : "?", mount->mountpoint);
        if (journal_r >= 0 && journal_state(journal)) {
                const char *outcome = journal_get_string(journal, "outcome") ?: "?";
                const char *target = journal_get_string(journal, "target") ?: "?";
                /* "running" without anyone holding the lock: the run died */
                if (streq(outcome, "running") && journal_lock_is_held(arg_state_dir) == 0)
                        outcome = "interrupted (no docker-dataroot is running)";
                printf("Last migration:   %s -> %s: %s (last step: %s, %s)\n",
                       journal_get_string(journal, "source") ?: "?", target, outcome,
                       journal_get_string(journal, "stage") ?: "?", journal_get_string(journal, "updated") ?: "?");
                struct stat st;
                if ((streq(outcome, "rolled-back") || strncmp(outcome, "interrupted", 11) == 0 ||
                     streq(outcome, "rollback-failed")) && stat(target, &st) == 0)
                        printf("Left over:        %s holds the copy of that migration; %s\n", target,
                               strncmp(outcome, "interrupted", 11) == 0 ? "run the same migrate to finish it, or "
                                                               "'docker-dataroot rollback --remove-target'"
                                                             : "remove it with 'docker-dataroot rollback --remove-target'");
        } else
                printf("Last migration:   none recorded in %s\n", arg_state_dir);
        if (leftover)
                printf("Old tree:         %s is still there; remove it with 'docker-dataroot cleanup' once you "
                       "are satisfied\n", leftover);
        return EXIT_DONE;
}

int main(int argc, char *argv[]) {
        raise_fd_limit();
        int r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_DONE;

        switch (arg_command) {
        case COMMAND_MIGRATE:
                return run_migrate();
        case COMMAND_COPY:
                return run_copy();
        case COMMAND_VERIFY:
                return run_verify();
        case COMMAND_STATUS:
                return run_status();
        case COMMAND_ROLLBACK:
                return run_rollback();
        case COMMAND_CLEANUP:
                return run_cleanup();
        case COMMAND_NONE:
                break;
        }
        return EXIT_USAGE;
}
