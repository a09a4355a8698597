/*
 * routes.h - Azure Functions route templates (ASP.NET Core syntax), as the
 * host matches them for `handler serve`.
 *
 * Supported per path segment: literals (matched ignoring case), {name},
 * {name?} (optional, trailing only), {name:constraint} with constraints int,
 * long, bool, guid and alpha, and a final catch-all {*name}. Parameters take
 * whole segments. Values are percent-decoded.
 */
#ifndef ES_HTTP_ROUTES_H
#define ES_HTTP_ROUTES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/status.h"

struct route_template;

/* Parses a template such as "todolists/{id}/items/{itemId?}". ES_EINVAL explains. */
enum es_status route_template_parse(const char *tmpl, struct route_template **out,
                                    struct es_error *err) ES_MUST_CHECK;

void route_template_free(struct route_template *t);

/*
 * Matches a raw (undecoded) path relative to the route prefix, without the
 * query and without a leading '/'. On a match returns ES_OK and, when
 * params_out is given, a new object of parameter name -> decoded value;
 * ES_ENOTFOUND when the path does not match; ES_ENOMEM when a segment could
 * not be decoded (which says nothing of whether it matches).
 */
enum es_status route_template_match(const struct route_template *t, const char *path,
                                    size_t path_len, json_t **params_out) ES_MUST_CHECK;

/*
 * Orders two templates that both match a path: negative when a is the more
 * specific (literal before constrained before plain before optional before
 * catch-all, segment by segment), as ASP.NET routing does.
 */
int route_template_compare(const struct route_template *a,
                           const struct route_template *b);

#endif
