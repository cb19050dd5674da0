/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tests.h"
#include "daemon_config.h"

int main(void) {
        return 0;
}
