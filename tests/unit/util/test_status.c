/*
 * util/status.c against docs/api.md: the "## Errors" table there lists the
 * API's documented answers, and status.h's table says which codes those are
 * (es_status_documented) and with which HTTP status. Each row of the docs
 * must be such a code with that status, and each such code must have a row.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"
#include "../../support/fixtures.h"

#define API_DOC  ES_SOURCE_DIR "/docs/api.md"
#define ROWS_MAX 64

/* One row of the errors table: "| 409 | `task_exists` | when |". */
struct error_row {
    int line;    /* in the document, from 1 */
    long status; /* -1 when the first cell is not a number */
    char code[64];
};

/* Trims spaces and one pair of backticks from cell [s, e) into out. */
static void cell_text(const char *s, const char *e, char *out, size_t len)
{
    while (s < e && *s == ' ')
        s++;
    while (e > s && e[-1] == ' ')
        e--;
    if (e - s >= 2 && *s == '`' && e[-1] == '`') {
        s++;
        e--;
    }
    snprintf(out, len, "%.*s", (int)(e - s), s);
}

/* Reads one table line into r; false for the header and the separator rows. */
static bool read_row(const char *line, const char *end, int n, struct error_row *r)
{
    const char *c1 = memchr(line + 1, '|', (size_t)(end - line - 1));
    const char *c2 = c1 != NULL ? memchr(c1 + 1, '|', (size_t)(end - c1 - 1)) : NULL;
    char status[32];
    if (c2 == NULL)
        c1 = c2 = end;
    cell_text(line + 1, c1, status, sizeof(status));
    if (strcmp(status, "Status") == 0 || strspn(status, "-:") == strlen(status))
        return false;
    char *rest;
    r->line = n;
    r->status = strtol(status, &rest, 10);
    if (rest == status || *rest != '\0')
        r->status = -1;
    cell_text(c1 + (c1 < end), c2, r->code, sizeof(r->code));
    return true;
}

/*
 * The rows of the table under "## Errors" in the Markdown text md, up to the
 * next "## " heading: at most cap, the count returned.
 */
static size_t error_rows(const char *md, struct error_row *rows, size_t cap)
{
    size_t n = 0;
    bool in_errors = false;
    int line_no = 1;
    for (const char *line = md; *line != '\0' && n < cap; line_no++) {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            end = line + strlen(line);
        if (strncmp(line, "## ", 3) == 0)
            in_errors = (size_t)(end - line) == strlen("## Errors") &&
                        strncmp(line, "## Errors", (size_t)(end - line)) == 0;
        else if (in_errors && *line == '|' && read_row(line, end, line_no, &rows[n]))
            n++;
        line = *end == '\n' ? end + 1 : end;
    }
    return n;
}

static size_t read_doc_rows(struct error_row *rows, size_t cap)
{
    size_t len = 0;
    char *md = fixture_read(API_DOC, &len);
    cr_assert_not_null(md, "cannot read %s", API_DOC);
    size_t n = error_rows(md, rows, cap);
    free(md);
    cr_assert_gt(n, 0, "%s: no rows in a table under \"## Errors\"", API_DOC);
    cr_assert_lt(n, cap, "%s: more than %zu error rows; raise ROWS_MAX", API_DOC, cap);
    return n;
}

Test(status_docs, every_row_of_the_errors_table_is_a_documented_code_with_its_status)
{
    struct error_row rows[ROWS_MAX];
    size_t n = read_doc_rows(rows, ROWS_MAX);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (int s = 0; s < ES_STATUS_COUNT && !found; s++)
            found = es_status_documented((enum es_status)s) &&
                    es_status_http((enum es_status)s) == rows[i].status &&
                    strcmp(es_status_name((enum es_status)s), rows[i].code) == 0;
        cr_expect(found,
                  "docs/api.md line %d: %ld `%s` is not a code util/status.h documents "
                  "with that HTTP status",
                  rows[i].line, rows[i].status, rows[i].code);
    }
}

Test(status_docs, every_documented_code_has_a_row_in_the_errors_table)
{
    struct error_row rows[ROWS_MAX];
    size_t n = read_doc_rows(rows, ROWS_MAX);
    for (int s = 0; s < ES_STATUS_COUNT; s++) {
        if (!es_status_documented((enum es_status)s))
            continue;
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = rows[i].status == es_status_http((enum es_status)s) &&
                    strcmp(rows[i].code, es_status_name((enum es_status)s)) == 0;
        cr_expect(found,
                  "util/status.h documents %s (%d) but docs/api.md's \"## Errors\" table "
                  "has no row '| %d | `%s` |'",
                  es_status_name((enum es_status)s), es_status_http((enum es_status)s),
                  es_status_http((enum es_status)s), es_status_name((enum es_status)s));
    }
}

Test(status_docs, the_table_reader_takes_only_the_errors_sections_rows)
{
    static const char md[] = "# API\n"
                             "| Status | Code |\n|---|---|\n| 200 | `elsewhere` |\n"
                             "## Errors\n\nText.\n\n"
                             "| Status | Code | When |\n"
                             "|---|---|---|\n"
                             "| 400 | `invalid_json` | the body is not JSON |\n"
                             "|409|`task_exists`|\n"
                             "| x | `odd` | |\n"
                             "## Events\n"
                             "| 410 | `after` | |\n";
    struct error_row rows[8];
    size_t n = error_rows(md, rows, 8);
    cr_assert_eq(n, 3);
    cr_expect_eq(rows[0].status, 400);
    cr_expect_str_eq(rows[0].code, "invalid_json");
    cr_expect_eq(rows[0].line, 11);
    cr_expect_eq(rows[1].status, 409);
    cr_expect_str_eq(rows[1].code, "task_exists");
    cr_expect_eq(rows[2].status, -1, "a status that is not a number is reported");
    cr_expect_str_eq(rows[2].code, "odd");
}
