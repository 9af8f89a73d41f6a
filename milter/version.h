/*
 * version.h - the version string used in X-Triage-Version and -V
 */
#ifndef TRIAGE_VERSION_H
#define TRIAGE_VERSION_H

#include "config-auto.h"

#define TRIAGE_VERSION_STRING PACKAGE_NAME " " PACKAGE_VERSION

#endif
