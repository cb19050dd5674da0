/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

#include "util.h"

#define ENGINE_DEFAULT_SOCKET "/var/run/docker.sock"

/* What GET /info says; strings are owned. */
typedef struct EngineInfo {
        char *root_dir;        /* DockerRootDir */
        char *driver;          /* Driver, e.g. overlay2 */
        char *server_version;  /* ServerVersion */
        long images;           /* Images */
        long containers;       /* Containers */
        long containers_running;
        cJSON *raw;            /* the whole document, for later checks */
} EngineInfo;

void engine_info_free(EngineInfo *info);
DEFINE_POINTER_CLEANUP(EngineInfo, engine_info_freep, engine_info_free)

/* The engine socket: DOCKER_HOST when set (only unix:// is accepted:
 * -EPROTONOSUPPORT otherwise), else ENGINE_DEFAULT_SOCKET. */
int engine_socket_path(char **ret);

/* One HTTP/1.0 request over the unix socket. Body is NUL-terminated. */
int engine_request(const char *socket_path, const char *method, const char *url,
                   int *ret_status, char **ret_body);

/* GET /info, parsed. -ECONNREFUSED/-ENOENT when the engine is down,
 * -EBADMSG when the answer is not what the API documents. */
int engine_get_info(const char *socket_path, EngineInfo **ret);

/* Polls engine_get_info until it answers or timeout_usec passes
 * (-ETIMEDOUT). */
int engine_wait_info(const char *socket_path, uint64_t timeout_usec, EngineInfo **ret);
