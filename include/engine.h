/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

#include "util.h"

#define ENGINE_DEFAULT_SOCKET "/var/run/docker.sock"

/* How long one request may take, connect to last byte. */
#define ENGINE_REQUEST_TIMEOUT_USEC (30ULL * 1000000ULL)
/* Larger bodies are refused with -EFBIG. */
#define ENGINE_BODY_MAX (16U * 1024U * 1024U)

/* What GET /info says; strings are owned. */
typedef struct EngineInfo {
        char *root_dir;        /* DockerRootDir, always set */
        char *driver;          /* Driver, e.g. overlay2, always set */
        char *server_version;  /* ServerVersion, NULL when absent */
        long images;           /* Images, -1 when absent */
        long containers;       /* Containers, -1 when absent */
        long containers_running; /* ContainersRunning, -1 when absent */
        cJSON *raw;            /* the whole document, for later checks */
} EngineInfo;

void engine_info_free(EngineInfo *info);
DEFINE_POINTER_CLEANUP(EngineInfo, engine_info_freep, engine_info_free)

/* The engine socket: DOCKER_HOST when set (only unix:// with an absolute
 * path is accepted: -EPROTONOSUPPORT for other schemes, including a bare
 * host, which docker reads as tcp; -EINVAL for a relative path), else
 * ENGINE_DEFAULT_SOCKET. */
int engine_socket_path(char **ret);

/* One HTTP/1.0 request over the unix socket, with ENGINE_REQUEST_TIMEOUT_USEC.
 * Any status the engine answers is success: the caller judges it.
 * -EBADMSG when the answer is not HTTP or ends early, -ECONNRESET when the
 * engine hangs up without a word, -ETIMEDOUT, -EFBIG.
 * ret_status and ret_body may be NULL; the body is NUL-terminated (a body
 * with NUL bytes in it is returned as is, the terminator comes after it). */
int engine_request(const char *socket_path, const char *method, const char *url,
                   int *ret_status, char **ret_body);
/* Same, with the time allowed for the whole exchange. */
int engine_request_with_timeout(const char *socket_path, const char *method, const char *url,
                                uint64_t timeout_usec, int *ret_status, char **ret_body);

/* GET /info, parsed. -ECONNREFUSED/-ENOENT when the engine is down,
 * -EIO when it answers with a status other than 200, -EBADMSG when the
 * answer is not what the API documents (not JSON, no DockerRootDir or
 * Driver string). */
int engine_get_info(const char *socket_path, EngineInfo **ret);

/* Polls GET /info every 200 ms until it answers or timeout_usec passes
 * (-ETIMEDOUT). Tries at least once, even with a zero timeout. Errors that
 * waiting cannot cure (-EINVAL, -ENAMETOOLONG, -ENOMEM, -EACCES, -EFBIG)
 * are returned at once. */
int engine_wait_info(const char *socket_path, uint64_t timeout_usec, EngineInfo **ret);
