/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include "engine.h"

/* A status line and headers larger than this do not come from an engine. */
#define HEAD_MAX (64U * 1024U)
/* Room for chunk framing on top of the body limit. */
#define RAW_MAX (HEAD_MAX + ENGINE_BODY_MAX + ENGINE_BODY_MAX / 8)
#define WAIT_INTERVAL_USEC (200ULL * 1000ULL)
/* One attempt of engine_wait_info gets at least this much time. */
#define WAIT_MIN_ATTEMPT_USEC (100ULL * 1000ULL)

void engine_info_free(EngineInfo *info) {
        if (!info)
                return;
        free(info->root_dir);
        free(info->driver);
        free(info->server_version);
        cJSON_Delete(info->raw);
        free(info);
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int engine_socket_path(char **ret) {
        if (!ret)
                return -EINVAL;

        const char *host = getenv("DOCKER_HOST");
        /* The docker CLI ignores surrounding blanks, so do we. */
        while (host && is_blank(*host))
                host++;
        size_t len = host ? strlen(host) : 0;
        while (len > 0 && is_blank(host[len - 1]))
                len--;

        char *path;
        if (len == 0)
                path = strdup(ENGINE_DEFAULT_SOCKET);
        else {
                static const char scheme[] = "unix://";
                if (len < strlen(scheme) || strncmp(host, scheme, strlen(scheme)) != 0)
                        return -EPROTONOSUPPORT;
                const char *p = host + strlen(scheme);
                size_t plen = len - strlen(scheme);
                if (plen == 0)
                        path = strdup(ENGINE_DEFAULT_SOCKET);
                else if (p[0] != '/')
                        return -EINVAL;
                else
                        path = strndup(p, plen);
        }
        if (!path)
                return -ENOMEM;
        *ret = path;
        return 0;
}

/* Waits until fd is ready for events, or -ETIMEDOUT at the deadline. */
static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                uint64_t left = usec_left(deadline);
                if (left == 0)
                        return -ETIMEDOUT;

                struct pollfd pfd = { .fd = fd, .events = events };
                uint64_t ms = (left + 999) / 1000;
                int r = poll(&pfd, 1, (int) MIN(ms, (uint64_t) INT_MAX));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (r > 0)
                        return 0; /* also on POLLHUP/POLLERR: the next call reports it */
        }
}

static int connect_engine(const char *socket_path, uint64_t deadline, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len = strlen(socket_path);
        if (len == 0)
                return -EINVAL;
        if (len >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, len);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();

        /* Bounds connect() too: a unix connect blocks while the listener's
         * backlog is full, for at most the send timeout. */
        uint64_t left = usec_left(deadline);
        if (left == 0)
                return -ETIMEDOUT;
        left = MIN(left, (uint64_t) INT_MAX * 1000000ULL);
        struct timeval tv = {
                .tv_sec = (time_t) (left / 1000000ULL),
                .tv_usec = (suseconds_t) (left % 1000000ULL),
        };
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return negative_errno();

        if (connect(fd, (const struct sockaddr *) &sa,
                    (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len + 1)) < 0)
                return errno == EAGAIN ? -ETIMEDOUT : negative_errno();

        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int send_request(int fd, const char *buf, size_t size, uint64_t deadline) {
        while (size > 0) {
                int r = wait_fd(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                /* MSG_NOSIGNAL: an engine that hangs up must not kill us
                 * with SIGPIPE. */
                ssize_t n = send(fd, buf, size, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return negative_errno();
                }
                buf += n;
                size -= (size_t) n;
        }
        return 0;
}

/* How the body of a response is delimited. */
typedef struct ResponseHead {
        int status;
        size_t body_offset;
        bool chunked;
        bool has_length;
        uint64_t length;
} ResponseHead;

/* Offset just past the blank line that ends the head, 0 while incomplete.
 * Bare LF line ends are accepted too. */
static size_t find_head_end(const char *buf, size_t size) {
        for (size_t i = 0; i < size; i++) {
                if (buf[i] != '\n')
                        continue;
                if (i + 1 < size && buf[i + 1] == '\n')
                        return i + 2;
                if (i + 2 < size && buf[i + 1] == '\r' && buf[i + 2] == '\n')
                        return i + 3;
        }
        return 0;
}

static bool header_is(const char *line, size_t name_len, const char *name) {
        return name_len == strlen(name) && strncasecmp(line, name, name_len) == 0;
}

static int parse_status_line(const char *line, size_t len, int *ret_status) {
        /* HTTP/x.y SSS[ reason] */
        if (len < 12 || strncmp(line, "HTTP/", 5) != 0)
                return -EBADMSG;
        if (line[5] < '0' || line[5] > '9' || line[6] != '.' || line[7] < '0' || line[7] > '9' ||
            line[8] != ' ')
                return -EBADMSG;
        int status = 0;
        for (size_t i = 9; i < 12; i++) {
                if (line[i] < '0' || line[i] > '9')
                        return -EBADMSG;
                status = status * 10 + (line[i] - '0');
        }
        if (len > 12 && line[12] != ' ')
                return -EBADMSG;
        if (status < 100 || status > 599)
                return -EBADMSG;
        *ret_status = status;
        return 0;
}

static int parse_content_length(const char *value, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                if (value[i] < '0' || value[i] > '9')
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (value[i] - '0');
                if (v > ENGINE_BODY_MAX)
                        return -EFBIG;
        }
        *ret = v;
        return 0;
}

/* Transfer-Encoding: only chunked (possibly after identity) can be read. */
static int parse_transfer_encoding(const char *value, size_t len, bool *ret_chunked) {
        static const char chunked[] = "chunked";
        size_t n = strlen(chunked);

        if (len >= n && strncasecmp(value + len - n, chunked, n) == 0 &&
            (len == n || value[len - n - 1] == ',' || is_blank(value[len - n - 1]))) {
                *ret_chunked = true;
                return 0;
        }
        if (len == strlen("identity") && strncasecmp(value, "identity", len) == 0)
                return 0;
        return -EBADMSG;
}

static int parse_head(const char *buf, size_t head_size, ResponseHead *ret) {
        ResponseHead head = { .body_offset = head_size };
        const char *p = buf, *end = buf + head_size;
        bool first = true;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                if (!nl)
                        return -EBADMSG;
                size_t len = (size_t) (nl - p);
                if (len > 0 && p[len - 1] == '\r')
                        len--;
                const char *line = p;
                p = nl + 1;

                if (first) {
                        int r = parse_status_line(line, len, &head.status);
                        if (r < 0)
                                return r;
                        first = false;
                        continue;
                }
                if (len == 0)
                        break;
                if (is_blank(line[0]))
                        continue; /* obsolete line folding; nothing we need */

                const char *colon = memchr(line, ':', len);
                if (!colon)
                        return -EBADMSG;
                size_t name_len = (size_t) (colon - line);
                const char *value = colon + 1;
                size_t value_len = len - name_len - 1;
                while (value_len > 0 && is_blank(*value)) {
                        value++;
                        value_len--;
                }
                while (value_len > 0 && is_blank(value[value_len - 1]))
                        value_len--;

                if (header_is(line, name_len, "Content-Length")) {
                        uint64_t length;
                        int r = parse_content_length(value, value_len, &length);
                        if (r < 0)
                                return r;
                        if (head.has_length && head.length != length)
                                return -EBADMSG;
                        head.has_length = true;
                        head.length = length;
                } else if (header_is(line, name_len, "Transfer-Encoding")) {
                        int r = parse_transfer_encoding(value, value_len, &head.chunked);
                        if (r < 0)
                                return r;
                }
        }
        if (first)
                return -EBADMSG;

        /* Chunked framing wins over a length (RFC 9112, 6.3). */
        if (head.chunked)
                head.has_length = false;
        *ret = head;
        return 0;
}

/* Reads one CRLF- (or LF-) terminated line starting at *pos. Returns 1 and
 * the line (without its end) when whole, 0 when more input is needed. */
static int next_line(const char *buf, size_t size, size_t *pos, const char **ret, size_t *ret_len) {
        const char *nl = memchr(buf + *pos, '\n', size - *pos);
        if (!nl)
                return 0;
        size_t len = (size_t) (nl - (buf + *pos));
        *ret = buf + *pos;
        if (len > 0 && (*ret)[len - 1] == '\r')
                len--;
        *ret_len = len;
        *pos = (size_t) (nl - buf) + 1;
        return 1;
}

/* Walks chunked data. With out == NULL only checks whether it is complete;
 * otherwise copies the payload to out (which must hold the payload). Returns
 * 1 when complete (payload size in *ret_size), 0 when more input is needed,
 * -EBADMSG on broken framing, -EFBIG when the payload is too big. */
static int walk_chunks(const char *buf, size_t size, char *out, size_t *ret_size) {
        size_t pos = 0, total = 0;

        for (;;) {
                const char *line;
                size_t len;
                if (next_line(buf, size, &pos, &line, &len) == 0)
                        return 0;

                uint64_t chunk = 0;
                size_t i = 0;
                for (; i < len; i++) {
                        char c = line[i];
                        int digit;
                        if (c >= '0' && c <= '9')
                                digit = c - '0';
                        else if (c >= 'a' && c <= 'f')
                                digit = c - 'a' + 10;
                        else if (c >= 'A' && c <= 'F')
                                digit = c - 'A' + 10;
                        else
                                break;
                        chunk = chunk * 16 + (uint64_t) digit;
                        if (chunk > ENGINE_BODY_MAX)
                                return -EFBIG;
                }
                /* At least one digit, then nothing or extensions. */
                if (i == 0 || (i < len && line[i] != ';' && !is_blank(line[i])))
                        return -EBADMSG;

                if (chunk == 0) {
                        /* Trailer fields up to the blank line. */
                        for (;;) {
                                if (next_line(buf, size, &pos, &line, &len) == 0)
                                        return 0;
                                if (len == 0)
                                        break;
                        }
                        *ret_size = total;
                        return 1;
                }

                if (total + chunk > ENGINE_BODY_MAX)
                        return -EFBIG;
                if (size - pos < chunk)
                        return 0;
                if (out)
                        memcpy(out + total, buf + pos, (size_t) chunk);
                total += (size_t) chunk;
                pos += (size_t) chunk;

                if (next_line(buf, size, &pos, &line, &len) == 0)
                        return 0;
                if (len != 0)
                        return -EBADMSG;
        }
}

/* 1 when the whole body has arrived (for framings that say where it ends),
 * else 0. */
static int body_complete(const ResponseHead *head, const char *buf, size_t size) {
        const char *body = buf + head->body_offset;
        size_t body_size = size - head->body_offset;

        if (head->has_length)
                return body_size >= head->length;
        if (head->chunked) {
                size_t payload;
                return walk_chunks(body, body_size, NULL, &payload);
        }
        return 0;
}

static int extract_body(const ResponseHead *head, const char *buf, size_t size, char **ret,
                        size_t *ret_size) {
        const char *body = buf + head->body_offset;
        size_t body_size = size - head->body_offset;
        _cleanup_free_ char *out = NULL;
        size_t out_size;

        if (head->chunked) {
                size_t payload;
                int r = walk_chunks(body, body_size, NULL, &payload);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -EBADMSG; /* ended in the middle */
                out = malloc(payload + 1);
                if (!out)
                        return -ENOMEM;
                r = walk_chunks(body, body_size, out, &out_size);
                if (r <= 0)
                        return r < 0 ? r : -EBADMSG;
        } else {
                if (head->has_length) {
                        if (body_size < head->length)
                                return -EBADMSG; /* the engine hung up early */
                        body_size = (size_t) head->length;
                }
                if (body_size > ENGINE_BODY_MAX)
                        return -EFBIG;
                out = malloc(body_size + 1);
                if (!out)
                        return -ENOMEM;
                memcpy(out, body, body_size);
                out_size = body_size;
        }
        out[out_size] = '\0';
        *ret = TAKE_PTR(out);
        *ret_size = out_size;
        return 0;
}

static bool is_token_char(char c) {
        return c >= 'A' && c <= 'Z';
}

static bool url_is_valid(const char *url) {
        if (url[0] != '/')
                return false;
        for (const char *p = url; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

static int http_request(const char *socket_path, const char *method, const char *url,
                        uint64_t timeout_usec, int *ret_status, char **ret_body, size_t *ret_size) {
        if (!socket_path || !method || !url || !*method || !url_is_valid(url))
                return -EINVAL;
        for (const char *p = method; *p; p++)
                if (!is_token_char(*p))
                        return -EINVAL;

        uint64_t deadline = deadline_after(timeout_usec);

        _cleanup_close_ int fd = -1;
        int r = connect_engine(socket_path, deadline, &fd);
        if (r < 0)
                return r;

        /* HTTP/1.0: the engine then neither chunks the body nor keeps the
         * connection open, so the body simply ends at EOF. */
        _cleanup_free_ char *request = strdup_printf("%s %s HTTP/1.0\r\nHost: docker\r\n\r\n",
                                                     method, url);
        if (!request)
                return -ENOMEM;
        r = send_request(fd, request, strlen(request), deadline);
        if (r < 0)
                return r;

        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;
        ResponseHead head = {};
        bool have_head = false;

        for (;;) {
                if (size + 1 >= allocated) {
                        if (allocated >= RAW_MAX)
                                return -EFBIG;
                        size_t want = MIN(MAX(allocated * 2, (size_t) 16384), (size_t) RAW_MAX);
                        char *bigger = realloc(buf, want);
                        if (!bigger)
                                return -ENOMEM;
                        buf = bigger;
                        allocated = want;
                }

                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                ssize_t n = recv(fd, buf + size, allocated - size - 1, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size_t scanned = size;
                size += (size_t) n;

                if (!have_head) {
                        /* Restart the search a little before the new data,
                         * the blank line may straddle two reads. */
                        size_t from = scanned > 3 ? scanned - 3 : 0;
                        size_t end = find_head_end(buf + from, size - from);
                        if (end == 0) {
                                if (size > HEAD_MAX)
                                        return -EBADMSG;
                                continue;
                        }
                        r = parse_head(buf, from + end, &head);
                        if (r < 0)
                                return r;
                        have_head = true;
                }
                /* A server that keeps the connection open despite HTTP/1.0
                 * is done once its framing says so. */
                r = body_complete(&head, buf, size);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
        }

        if (!have_head)
                return size == 0 ? -ECONNRESET : -EBADMSG;

        _cleanup_free_ char *body = NULL;
        size_t body_size;
        r = extract_body(&head, buf, size, &body, &body_size);
        if (r < 0)
                return r;

        if (ret_status)
                *ret_status = head.status;
        if (ret_size)
                *ret_size = body_size;
        if (ret_body)
                *ret_body = TAKE_PTR(body);
        return 0;
}

int engine_request_with_timeout(const char *socket_path, const char *method, const char *url,
                                uint64_t timeout_usec, int *ret_status, char **ret_body) {
        return http_request(socket_path, method, url, timeout_usec, ret_status, ret_body, NULL);
}

int engine_request(const char *socket_path, const char *method, const char *url,
                   int *ret_status, char **ret_body) {
        return http_request(socket_path, method, url, ENGINE_REQUEST_TIMEOUT_USEC, ret_status,
                            ret_body, NULL);
}

static int json_dup_string(const cJSON *object, const char *key, bool required, char **ret) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
        if (!cJSON_IsString(item) || !item->valuestring || !*item->valuestring) {
                if (required)
                        return -EBADMSG;
                *ret = NULL;
                return 0;
        }
        *ret = strdup(item->valuestring);
        return *ret ? 0 : -ENOMEM;
}

static long json_count(const cJSON *object, const char *key) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
        if (!cJSON_IsNumber(item) || item->valuedouble < 0 || item->valuedouble > (double) LONG_MAX)
                return -1;
        return (long) item->valuedouble;
}

static int get_info(const char *socket_path, uint64_t timeout_usec, EngineInfo **ret) {
        if (!ret)
                return -EINVAL;

        int status;
        _cleanup_free_ char *body = NULL;
        size_t body_size;
        int r = http_request(socket_path, "GET", "/info", timeout_usec, &status, &body, &body_size);
        if (r < 0)
                return r;
        if (status != 200)
                return -EIO;
        if (strlen(body) != body_size)
                return -EBADMSG;

        _cleanup_(cJSON_Deletep) cJSON *json = cJSON_ParseWithOpts(body, NULL, true);
        if (!cJSON_IsObject(json))
                return -EBADMSG;

        _cleanup_(engine_info_freep) EngineInfo *info = calloc(1, sizeof(EngineInfo));
        if (!info)
                return -ENOMEM;
        r = json_dup_string(json, "DockerRootDir", true, &info->root_dir);
        if (r < 0)
                return r;
        r = json_dup_string(json, "Driver", true, &info->driver);
        if (r < 0)
                return r;
        r = json_dup_string(json, "ServerVersion", false, &info->server_version);
        if (r < 0)
                return r;
        info->images = json_count(json, "Images");
        info->containers = json_count(json, "Containers");
        info->containers_running = json_count(json, "ContainersRunning");
        info->raw = TAKE_PTR(json);

        *ret = TAKE_PTR(info);
        return 0;
}

int engine_get_info(const char *socket_path, EngineInfo **ret) {
        return get_info(socket_path, ENGINE_REQUEST_TIMEOUT_USEC, ret);
}

static bool error_is_permanent(int r) {
        return r == -EINVAL || r == -ENAMETOOLONG || r == -ENOMEM || r == -EACCES || r == -EFBIG;
}

int engine_wait_info(const char *socket_path, uint64_t timeout_usec, EngineInfo **ret) {
        uint64_t deadline = deadline_after(timeout_usec);

        for (;;) {
                uint64_t attempt = MIN(MAX(usec_left(deadline), WAIT_MIN_ATTEMPT_USEC),
                                       ENGINE_REQUEST_TIMEOUT_USEC);
                int r = get_info(socket_path, attempt, ret);
                if (r >= 0 || error_is_permanent(r))
                        return r;

                uint64_t left = usec_left(deadline);
                if (left == 0)
                        return -ETIMEDOUT;
                uint64_t pause = MIN(left, WAIT_INTERVAL_USEC);
                struct timespec ts = {
                        .tv_sec = (time_t) (pause / 1000000ULL),
                        .tv_nsec = (long) (pause % 1000000ULL) * 1000L,
                };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }
}
