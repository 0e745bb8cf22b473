/*
 * amid — umbrella header for module authors: includes the whole SDK.
 *
 *     #include <amid/amid.h>
 *
 * Build a module out of tree with:
 *     cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags amid) \
 *        mod_x.c -o mod_x.so
 */
#ifndef AMID_AMID_H
#define AMID_AMID_H

#include <amid/module.h>
#include <amid/manager.h>
#include <amid/datastore.h>
#include <amid/hook.h>
#include <amid/session.h>
#include <amid/cli.h>

#endif /* AMID_AMID_H */
