/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tests.h"
#include "engine.h"

int main(void) {
        return 0;
}
