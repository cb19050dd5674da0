/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "tests.h"
#include "engine.h"
#include "util.h"

/* What the fake engine does with one connection. */
typedef struct FakeReply {
        const char *pieces[6];  /* sent in order, with a short pause between them */
        bool hold_open;         /* afterwards wait for the client to hang up */
} FakeReply;

typedef struct FakeEngine {
        char dir[64];
        char path[128];
        int listen_fd;
        const FakeReply *replies;
        size_t n_replies;
        uint64_t listen_delay_usec; /* the socket appears only after this */
        pthread_t thread;
        char request[1024];         /* the last request received */
} FakeEngine;

static void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = (time_t) (usec / 1000000), .tv_nsec = (long) (usec % 1000000) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int listen_unix(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        ASSERT_TRUE(strlen(path) < sizeof(sa.sun_path));
        strcpy(sa.sun_path, path);

        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        ASSERT_TRUE(listen(fd, 8) == 0);
        return fd;
}

/* Reads until the blank line ending the request head, or EOF. */
static void read_request(int fd, char *buf, size_t size) {
        size_t n = 0;
        buf[0] = '\0';
        while (n + 1 < size && !strstr(buf, "\r\n\r\n")) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                if (poll(&pfd, 1, 5000) <= 0)
                        break;
                ssize_t k = read(fd, buf + n, size - n - 1);
                if (k <= 0)
                        break;
                n += (size_t) k;
                buf[n] = '\0';
        }
}

static void *fake_engine_run(void *userdata) {
        FakeEngine *f = userdata;

        if (f->listen_delay_usec > 0) {
                sleep_usec(f->listen_delay_usec);
                f->listen_fd = listen_unix(f->path);
        }

        for (size_t i = 0; i < f->n_replies; i++) {
                const FakeReply *reply = &f->replies[i];
                _cleanup_close_ int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                ASSERT_TRUE(fd >= 0);
                read_request(fd, f->request, sizeof(f->request));

                for (size_t p = 0; p < ELEMENTSOF(reply->pieces) && reply->pieces[p]; p++) {
                        if (p > 0)
                                sleep_usec(20000);
                        /* The client may already have given up. */
                        (void) send(fd, reply->pieces[p], strlen(reply->pieces[p]), MSG_NOSIGNAL);
                }
                if (reply->hold_open) {
                        char c;
                        struct pollfd pfd = { .fd = fd, .events = POLLIN };
                        /* Until the client closes; bounded so a broken
                         * client cannot hang the test. */
                        while (poll(&pfd, 1, 10000) > 0 && read(fd, &c, 1) > 0)
                                ;
                }
        }
        return NULL;
}

static void fake_engine_start(FakeEngine *f, const FakeReply *replies, size_t n_replies,
                              uint64_t listen_delay_usec) {
        *f = (FakeEngine) {
                .listen_fd = -1,
                .replies = replies,
                .n_replies = n_replies,
                .listen_delay_usec = listen_delay_usec,
        };
        strcpy(f->dir, "/tmp/test-engine-XXXXXX");
        ASSERT_TRUE(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/docker.sock", f->dir);
        if (listen_delay_usec == 0)
                f->listen_fd = listen_unix(f->path);
        ASSERT_TRUE(pthread_create(&f->thread, NULL, fake_engine_run, f) == 0);
}

static void fake_engine_stop(FakeEngine *f) {
        ASSERT_TRUE(pthread_join(f->thread, NULL) == 0);
        if (f->listen_fd >= 0)
                close(f->listen_fd);
        (void) unlink(f->path);
        ASSERT_TRUE(rmdir(f->dir) == 0);
}

/* One request against a fake answering with reply; returns what
 * engine_request_with_timeout returned. */
static int request_once(const FakeReply *reply, uint64_t timeout_usec, int *ret_status, char **ret_body) {
        FakeEngine f;
        fake_engine_start(&f, reply, 1, 0);
        int r = engine_request_with_timeout(f.path, "GET", "/info", timeout_usec, ret_status, ret_body);
        fake_engine_stop(&f);
        return r;
}

#define INFO_JSON                                                                           \
        "{\"ID\":\"X\",\"Containers\":3,\"ContainersRunning\":1,\"Images\":7,"             \
        "\"Driver\":\"overlay2\",\"DockerRootDir\":\"/var/lib/docker\","                  \
        "\"ServerVersion\":\"20.10.24+dfsg1\",\"Labels\":[]}\n"

static void test_socket_path(void) {
        _cleanup_free_ char *path = NULL;
        /* The real-engine test below needs the caller's DOCKER_HOST back. */
        const char *saved = getenv("DOCKER_HOST");
        _cleanup_free_ char *original = saved ? strdup(saved) : NULL;
        ASSERT_TRUE(!saved || original);

        ASSERT_OK(unsetenv("DOCKER_HOST"));
        ASSERT_OK(engine_socket_path(&path));
        ASSERT_STREQ(path, ENGINE_DEFAULT_SOCKET);
        free(TAKE_PTR(path));

        static const struct {
                const char *host;
                int result;
                const char *path;
        } cases[] = {
                { "", 0, ENGINE_DEFAULT_SOCKET },
                { "   ", 0, ENGINE_DEFAULT_SOCKET },
                { "unix://", 0, ENGINE_DEFAULT_SOCKET },
                { "unix:///run/docker.sock", 0, "/run/docker.sock" },
                { " unix:///proc/1/root/run/docker.sock\n", 0, "/proc/1/root/run/docker.sock" },
                { "unix://run/docker.sock", -EINVAL, NULL },
                { "tcp://127.0.0.1:2375", -EPROTONOSUPPORT, NULL },
                { "ssh://user@host", -EPROTONOSUPPORT, NULL },
                { "fd://", -EPROTONOSUPPORT, NULL },
                { "npipe:////./pipe/docker_engine", -EPROTONOSUPPORT, NULL },
                { "UNIX:///run/docker.sock", -EPROTONOSUPPORT, NULL },
                { "/var/run/docker.sock", -EPROTONOSUPPORT, NULL }, /* docker reads a bare host as tcp */
                { "unix:/run/docker.sock", -EPROTONOSUPPORT, NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ASSERT_OK(setenv("DOCKER_HOST", cases[i].host, 1));
                path = (char *) "untouched";
                int r = engine_socket_path(&path);
                if (r != cases[i].result)
                        fprintf(stderr, "DOCKER_HOST='%s': %d\n", cases[i].host, r);
                ASSERT_EQ(r, cases[i].result);
                if (r >= 0) {
                        ASSERT_STREQ(path, cases[i].path);
                        free(TAKE_PTR(path));
                } else {
                        ASSERT_STREQ(path, "untouched");
                        path = NULL;
                }
        }
        if (original)
                ASSERT_OK(setenv("DOCKER_HOST", original, 1));
        else
                ASSERT_OK(unsetenv("DOCKER_HOST"));
}

static void test_info_ok(void) {
        /* Like dockerd answering HTTP/1.0: no length, the body ends at EOF;
         * split so that the head and the body arrive in pieces. */
        static const FakeReply reply = { .pieces = {
                "HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nContent-Ty",
                "pe: application/json\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n\r",
                "\n{\"ID\":\"X\",\"Containers\":3,\"ContainersRunning\":1,\"Images\":7,",
                "\"Driver\":\"overlay2\",\"DockerRootDir\":\"/var/lib/docker\",",
                "\"ServerVersion\":\"20.10.24+dfsg1\",\"Labels\":[]}\n",
        } };
        FakeEngine f;
        fake_engine_start(&f, &reply, 1, 0);

        _cleanup_(engine_info_freep) EngineInfo *info = NULL;
        ASSERT_OK(engine_get_info(f.path, &info));
        fake_engine_stop(&f);

        ASSERT_STREQ(f.request, "GET /info HTTP/1.0\r\nHost: docker\r\n\r\n");
        ASSERT_STREQ(info->root_dir, "/var/lib/docker");
        ASSERT_STREQ(info->driver, "overlay2");
        ASSERT_STREQ(info->server_version, "20.10.24+dfsg1");
        ASSERT_EQ(info->images, 7);
        ASSERT_EQ(info->containers, 3);
        ASSERT_EQ(info->containers_running, 1);
        ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(info->raw, "ID")));
}

static void test_info_optional_fields(void) {
        static const FakeReply reply = { .pieces = {
                "HTTP/1.1 200 OK\nContent-Type: application/json\n\n"
                "{\"Driver\":\"btrfs\",\"DockerRootDir\":\"/srv/docker\",\"Images\":\"many\"}",
        } };
        FakeEngine f;
        fake_engine_start(&f, &reply, 1, 0);
        _cleanup_(engine_info_freep) EngineInfo *info = NULL;
        ASSERT_OK(engine_get_info(f.path, &info));
        fake_engine_stop(&f);

        ASSERT_STREQ(info->root_dir, "/srv/docker");
        ASSERT_STREQ(info->driver, "btrfs");
        ASSERT_TRUE(info->server_version == NULL);
        ASSERT_EQ(info->images, -1);
        ASSERT_EQ(info->containers, -1);
        ASSERT_EQ(info->containers_running, -1);
}

static void test_info_bad(void) {
        static const struct {
                FakeReply reply;
                int result;
        } cases[] = {
                { { .pieces = { "HTTP/1.0 500 Internal Server Error\r\nContent-Length: 27\r\n\r\n"
                                "{\"message\":\"out of order\"}\n" } }, -EIO },
                { { .pieces = { "HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"page not found\"}\n" } }, -EIO },
                { { .pieces = { "HTTP/1.0 200 OK\r\n\r\n<html>hello</html>" } }, -EBADMSG },
                { { .pieces = { "HTTP/1.0 200 OK\r\n\r\n[1, 2]" } }, -EBADMSG },
                { { .pieces = { "HTTP/1.0 200 OK\r\n\r\n{\"Driver\":\"overlay2\"}" } }, -EBADMSG },
                { { .pieces = { "HTTP/1.0 200 OK\r\n\r\n{\"Driver\":\"overlay2\",\"DockerRootDir\":7}" } },
                  -EBADMSG },
                { { .pieces = { "HTTP/1.0 200 OK\r\n\r\n{\"Driver\":\"overlay2\",\"DockerRootDir\":\"/x\"} trailing" } },
                  -EBADMSG },
                { { .pieces = { "SSH-2.0-OpenSSH_9.2\r\n\r\n" } }, -EBADMSG },
                { { .pieces = { "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\n\n" } }, -EBADMSG },
                { { .pieces = { "HTTP/1.0 2000 OK\r\n\r\n{}" } }, -EBADMSG },
                { { .pieces = { "HTTP/1.0 200 OK\r\nno colon here\r\n\r\n{}" } }, -EBADMSG },
                { { .pieces = { "HTTP/1.0 200 OK\r\nContent-Length: 12x\r\n\r\n{}" } }, -EBADMSG },
                { { .pieces = { "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}" } },
                  -EBADMSG },
                { { .pieces = { "HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}" } }, -EBADMSG },
                { { .pieces = { "HTTP/1.0 200 OK\r\nContent-Length: 99999999999\r\n\r\n{}" } }, -EFBIG },
                /* closes early: in the head, in a body with a length */
                { { .pieces = { "HTTP/1.0 200 OK\r\nContent-Ty" } }, -EBADMSG },
                { { .pieces = { "HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\n{\"Driver\":" } }, -EBADMSG },
                /* closes without a word */
                { { .pieces = { NULL } }, -ECONNRESET },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                FakeEngine f;
                fake_engine_start(&f, &cases[i].reply, 1, 0);
                EngineInfo *info = (EngineInfo *) 1;
                int r = engine_get_info(f.path, &info);
                fake_engine_stop(&f);
                if (r != cases[i].result)
                        fprintf(stderr, "case %zu: %d (%s)\n", i, r, strerror(-r));
                ASSERT_EQ(r, cases[i].result);
                ASSERT_TRUE(info == (EngineInfo *) 1);
        }
}

static void test_status_and_body(void) {
        static const FakeReply reply = { .pieces = {
                "HTTP/1.0 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                "Content-Length: 27\r\n\r\n{\"message\":\"out of order\"}\nextra bytes ignored" } };
        int status = 0;
        _cleanup_free_ char *body = NULL;
        ASSERT_OK(request_once(&reply, ENGINE_REQUEST_TIMEOUT_USEC, &status, &body));
        ASSERT_EQ(status, 500);
        ASSERT_STREQ(body, "{\"message\":\"out of order\"}\n");

        /* Status and body are optional outputs. */
        ASSERT_OK(request_once(&reply, ENGINE_REQUEST_TIMEOUT_USEC, NULL, NULL));

        free(TAKE_PTR(body));

        /* No body at all. */
        static const FakeReply empty = { .pieces = { "HTTP/1.0 204 No Content\r\n\r\n" } };
        ASSERT_OK(request_once(&empty, ENGINE_REQUEST_TIMEOUT_USEC, &status, &body));
        ASSERT_EQ(status, 204);
        ASSERT_STREQ(body, "");
}

static void test_chunked(void) {
        /* Chunk sizes in both cases, an extension, a trailer, split mid-size
         * and mid-CRLF. */
        static const FakeReply reply = { .pieces = {
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                "1",
                "5\r\n{\"Driver\":\"over",
                "lay2\",\r\n1b;name=value\r\n\"DockerRootDir\":\"/var/lib/d\r",
                "\n7\r\nocker\"}\r\n0\r\nX-Trailer: yes\r\n\r\n",
        } };
        int status = 0;
        _cleanup_free_ char *body = NULL;
        ASSERT_OK(request_once(&reply, ENGINE_REQUEST_TIMEOUT_USEC, &status, &body));
        ASSERT_EQ(status, 200);
        ASSERT_STREQ(body, "{\"Driver\":\"overlay2\",\"DockerRootDir\":\"/var/lib/docker\"}");
        free(TAKE_PTR(body));

        /* The chunked framing says where the body ends: no need to wait for
         * a server that keeps the connection open. */
        static const FakeReply kept_open = {
                .pieces = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"
                            "2\r\nOK\r\n0\r\n\r\n" },
                .hold_open = true,
        };
        uint64_t start = now_usec();
        ASSERT_OK(request_once(&kept_open, ENGINE_REQUEST_TIMEOUT_USEC, &status, &body));
        ASSERT_TRUE(now_usec() - start < 5000000);
        ASSERT_STREQ(body, "OK");
        free(TAKE_PTR(body));

        static const FakeReply broken[] = {
                { .pieces = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nOK\r\n0\r\n\r\n" } },
                { .pieces = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOKAY\r\n0\r\n\r\n" } },
                /* ends in the middle of a chunk, and before the last chunk */
                { .pieces = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort" } },
                { .pieces = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n" } },
        };
        for (size_t i = 0; i < ELEMENTSOF(broken); i++) {
                status = -1;
                ASSERT_EQ(request_once(&broken[i], ENGINE_REQUEST_TIMEOUT_USEC, &status, &body), -EBADMSG);
                ASSERT_EQ(status, -1);
                ASSERT_TRUE(body == NULL);
        }

        static const FakeReply huge = {
                .pieces = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFF\r\n" } };
        ASSERT_EQ(request_once(&huge, ENGINE_REQUEST_TIMEOUT_USEC, &status, &body), -EFBIG);
}

static void test_content_length_kept_open(void) {
        static const FakeReply reply = {
                .pieces = { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "OK" },
                .hold_open = true,
        };
        int status = 0;
        _cleanup_free_ char *body = NULL;
        uint64_t start = now_usec();
        ASSERT_OK(request_once(&reply, ENGINE_REQUEST_TIMEOUT_USEC, &status, &body));
        ASSERT_TRUE(now_usec() - start < 5000000);
        ASSERT_EQ(status, 200);
        ASSERT_STREQ(body, "OK");
}

static void test_timeout(void) {
        /* Accepts, reads the request, never answers. */
        static const FakeReply silent = { .hold_open = true };
        int status = -1;
        char *body = NULL;
        uint64_t start = now_usec();
        ASSERT_EQ(request_once(&silent, 300000, &status, &body), -ETIMEDOUT);
        uint64_t elapsed = now_usec() - start;
        ASSERT_TRUE(elapsed >= 250000 && elapsed < 5000000);
        ASSERT_EQ(status, -1);
        ASSERT_TRUE(body == NULL);

        /* Answers half a head, then nothing. */
        static const FakeReply stalls = { .pieces = { "HTTP/1.0 200 OK\r\n" }, .hold_open = true };
        ASSERT_EQ(request_once(&stalls, 300000, &status, &body), -ETIMEDOUT);

        /* engine_get_info() on a silent engine does not hang either, but
         * its 30 s would make this test slow: engine_wait_info's deadline
         * bounds each attempt. */
        FakeEngine f;
        static const FakeReply silent_twice[] = { { .hold_open = true }, { .hold_open = true } };
        fake_engine_start(&f, silent_twice, 1, 0);
        EngineInfo *info = (EngineInfo *) 1;
        start = now_usec();
        ASSERT_EQ(engine_wait_info(f.path, 400000, &info), -ETIMEDOUT);
        elapsed = now_usec() - start;
        ASSERT_TRUE(elapsed >= 350000 && elapsed < 5000000);
        ASSERT_TRUE(info == (EngineInfo *) 1);
        fake_engine_stop(&f);
}

static void test_not_running(void) {
        char dir[] = "/tmp/test-engine-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir));
        _cleanup_free_ char *path = strdup_printf("%s/docker.sock", dir);
        ASSERT_TRUE(path);

        EngineInfo *info = NULL;
        ASSERT_EQ(engine_get_info(path, &info), -ENOENT);

        /* A stale socket file left by a dead engine. */
        int fd = listen_unix(path);
        close(fd);
        ASSERT_EQ(engine_get_info(path, &info), -ECONNREFUSED);

        uint64_t start = now_usec();
        ASSERT_EQ(engine_wait_info(path, 500000, &info), -ETIMEDOUT);
        ASSERT_TRUE(now_usec() - start >= 450000);
        ASSERT_TRUE(info == NULL);

        ASSERT_TRUE(unlink(path) == 0);
        ASSERT_TRUE(rmdir(dir) == 0);
}

static void test_bad_arguments(void) {
        int status;
        char *body = NULL;
        char long_path[200];
        memset(long_path, 'a', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = '\0';

        ASSERT_EQ(engine_request(long_path, "GET", "/info", &status, &body), -ENAMETOOLONG);
        ASSERT_EQ(engine_request("", "GET", "/info", &status, &body), -EINVAL);
        ASSERT_EQ(engine_request("/x", "GET", "info", &status, &body), -EINVAL);
        ASSERT_EQ(engine_request("/x", "GET", "/info HTTP/1.1\r\nX: y", &status, &body), -EINVAL);
        ASSERT_EQ(engine_request("/x", "GET /", "/info", &status, &body), -EINVAL);
        ASSERT_EQ(engine_request("/x", "", "/info", &status, &body), -EINVAL);
        /* waiting does not cure these */
        EngineInfo *info = NULL;
        uint64_t start = now_usec();
        ASSERT_EQ(engine_wait_info(long_path, 5000000, &info), -ENAMETOOLONG);
        ASSERT_TRUE(now_usec() - start < 1000000);
}

static void test_wait(void) {
        /* The engine comes up late, then answers 500 once, then 200. */
        static const FakeReply replies[] = {
                { .pieces = { "HTTP/1.0 500 Internal Server Error\r\n\r\n{\"message\":\"starting\"}" } },
                { .pieces = { "HTTP/1.0 200 OK\r\n\r\n" INFO_JSON } },
        };
        FakeEngine f;
        fake_engine_start(&f, replies, ELEMENTSOF(replies), 600000);

        _cleanup_(engine_info_freep) EngineInfo *info = NULL;
        uint64_t start = now_usec();
        ASSERT_OK(engine_wait_info(f.path, 10000000, &info));
        uint64_t elapsed = now_usec() - start;
        fake_engine_stop(&f);
        ASSERT_TRUE(elapsed >= 600000 && elapsed < 5000000);
        ASSERT_STREQ(info->root_dir, "/var/lib/docker");

        /* An engine that is up answers at once, even with no time to wait. */
        static const FakeReply up = { .pieces = { "HTTP/1.0 200 OK\r\n\r\n" INFO_JSON } };
        fake_engine_start(&f, &up, 1, 0);
        engine_info_free(TAKE_PTR(info));
        ASSERT_OK(engine_wait_info(f.path, 0, &info));
        fake_engine_stop(&f);
        ASSERT_STREQ(info->driver, "overlay2");
}

static void test_real_engine(void) {
        const char *real = getenv("DDR_TEST_REAL_SYSTEMD");
        if (!real || !streq(real, "1"))
                return;

        _cleanup_free_ char *path = NULL;
        ASSERT_OK(engine_socket_path(&path));
        fprintf(stderr, "real engine at %s\n", path);

        _cleanup_(engine_info_freep) EngineInfo *info = NULL;
        ASSERT_OK(engine_wait_info(path, 60 * 1000000ULL, &info));
        ASSERT_STREQ(info->root_dir, "/var/lib/docker");
        ASSERT_STREQ(info->driver, "overlay2");
        ASSERT_TRUE(info->server_version && *info->server_version);
        ASSERT_TRUE(info->images >= 0 && info->containers >= 0 && info->containers_running >= 0);
        fprintf(stderr, "real engine: %s, %s, version %s\n", info->root_dir, info->driver,
                info->server_version);

        int status;
        _cleanup_free_ char *body = NULL;
        ASSERT_OK(engine_request(path, "GET", "/_ping", &status, &body));
        ASSERT_EQ(status, 200);
        ASSERT_STREQ(body, "OK");
        free(TAKE_PTR(body));

        ASSERT_OK(engine_request(path, "GET", "/no-such-endpoint", &status, &body));
        ASSERT_EQ(status, 404);
}

int main(void) {
        test_socket_path();
        test_info_ok();
        test_info_optional_fields();
        test_info_bad();
        test_status_and_body();
        test_chunked();
        test_content_length_kept_open();
        test_timeout();
        test_not_running();
        test_bad_arguments();
        test_wait();
        test_real_engine();
        return 0;
}
