#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"

/* Each Criterion test runs in its own process, so setenv cannot leak between tests. */

Test(config, defaults_select_the_embedded_sqlite_store)
{
    unsetenv("CosmosDB");
    unsetenv("CosmosDB__accountEndpoint");
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_eq(cfg.store_kind, ES_STORE_SQLITE);
    cr_expect_str_eq(cfg.sqlite_path, "data/eventstore.db");
    cr_expect_eq(cfg.max_body_bytes, 1u << 20);
    cr_expect_eq(cfg.max_envelope_bytes, (6u << 20) + (256u << 10),
                 "room for the worst-case escaping of a full body");
    cr_expect_str_eq(cfg.cosmos_database, "eventsourcing");
    cr_expect_str_eq(cfg.deadletters_container, "deadletters");
    cr_expect_eq(cfg.max_connections, 1024);
    es_config_release(&cfg);
}

Test(config, reads_the_port_and_limits)
{
    setenv("FUNCTIONS_CUSTOMHANDLER_PORT", "5123", 1);
    setenv("MAX_BODY_BYTES", "2048", 1);
    setenv("MAX_ENVELOPE_BYTES", "8192", 1);
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_eq(cfg.port, 5123);
    cr_expect_eq(cfg.max_body_bytes, 2048);
    cr_expect_eq(cfg.max_envelope_bytes, 8192);
    es_config_release(&cfg);
}

Test(config, accepts_the_legacy_port_name)
{
    unsetenv("FUNCTIONS_CUSTOMHANDLER_PORT");
    setenv("FUNCTIONS_HTTPWORKER_PORT", "6000", 1);
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_eq(cfg.port, 6000);
    es_config_release(&cfg);
}

Test(config, rejects_malformed_numbers_naming_the_setting)
{
    const char *bad[] = {"abc", "12x", "-1", "0", "99999999999999999999", " 5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("MAX_BODY_BYTES", bad[i], 1);
        struct es_config cfg;
        struct es_error err = {0};
        cr_expect_eq(es_config_load(&cfg, &err), ES_EINVAL, "value '%s'", bad[i]);
        cr_expect(strstr(err.message, "MAX_BODY_BYTES") != NULL, "%s", err.message);
    }
    setenv("MAX_BODY_BYTES", "100", 1);
    setenv("FUNCTIONS_CUSTOMHANDLER_PORT", "70000", 1);
    struct es_config cfg;
    struct es_error err = {0};
    cr_expect_eq(es_config_load(&cfg, &err), ES_EINVAL);
    cr_expect(strstr(err.message, "FUNCTIONS_CUSTOMHANDLER_PORT") != NULL);
}

Test(config, rejects_an_unknown_log_level)
{
    setenv("HANDLER_LOG_LEVEL", "loud", 1);
    struct es_config cfg;
    struct es_error err = {0};
    cr_expect_eq(es_config_load(&cfg, &err), ES_EINVAL);
    cr_expect(strstr(err.message, "HANDLER_LOG_LEVEL") != NULL);
}

Test(config, a_connection_string_selects_cosmos_with_its_key)
{
    setenv("CosmosDB",
           " accountendpoint=https://acct.documents.azure.com:443/ ; AccountKey=a2V5==;",
           1);
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_eq(cfg.store_kind, ES_STORE_COSMOS);
    cr_expect_str_eq(cfg.cosmos_endpoint, "https://acct.documents.azure.com:443/");
    cr_expect_str_eq(cfg.cosmos_key, "a2V5==");
    char desc[256];
    es_config_describe_store(&cfg, desc, sizeof(desc));
    cr_expect_str_eq(desc, "cosmos:https://acct.documents.azure.com:443/ (key)");
    cr_expect(strstr(desc, "a2V5") == NULL);
    es_config_release(&cfg);
}

Test(config, an_account_endpoint_selects_cosmos_with_managed_identity)
{
    unsetenv("CosmosDB");
    setenv("CosmosDB__accountEndpoint", "https://acct.documents.azure.com:443/", 1);
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_eq(cfg.store_kind, ES_STORE_COSMOS);
    cr_expect_null(cfg.cosmos_key);
    char desc[256];
    es_config_describe_store(&cfg, desc, sizeof(desc));
    cr_expect(strstr(desc, "managed identity") != NULL);
    es_config_release(&cfg);
}

Test(config, an_incomplete_connection_string_is_an_error_that_hides_the_key)
{
    setenv("CosmosDB", "AccountKey=c2VjcmV0;", 1);
    struct es_config cfg;
    struct es_error err = {0};
    cr_expect_eq(es_config_load(&cfg, &err), ES_EINVAL);
    cr_expect(strstr(err.message, "CosmosDB") != NULL);
    cr_expect(strstr(err.message, "c2VjcmV0") == NULL);
}

Test(config, reads_the_managed_identity_and_client_settings)
{
    unsetenv("CosmosDB");
    setenv("CosmosDB__accountEndpoint", "https://acct.documents.azure.com:443/", 1);
    setenv("IDENTITY_ENDPOINT", "http://localhost:42356/msi/token", 1);
    setenv("IDENTITY_HEADER", "guid-secret", 1);
    setenv("CosmosDB__clientId", "client-1", 1);
    setenv("COSMOS_MAX_RETRIES", "3", 1);
    setenv("COSMOS_TLS_VERIFY", "false", 1);
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_str_eq(cfg.identity_endpoint, "http://localhost:42356/msi/token");
    cr_expect_str_eq(cfg.identity_header, "guid-secret");
    cr_expect_str_eq(cfg.identity_client_id, "client-1");
    cr_expect_eq(cfg.cosmos_max_retries, 3);
    cr_expect_not(cfg.cosmos_tls_verify);
    cr_expect_eq(cfg.cosmos_retry_budget_ms, 30000);
    es_config_release(&cfg);
}

Test(config, rejects_a_tls_setting_that_is_not_a_boolean)
{
    setenv("COSMOS_TLS_VERIFY", "maybe", 1);
    struct es_config cfg;
    struct es_error err = {0};
    cr_expect_eq(es_config_load(&cfg, &err), ES_EINVAL);
    cr_expect(strstr(err.message, "COSMOS_TLS_VERIFY") != NULL);
}

Test(config, the_older_identity_endpoint_names_stand_in_for_the_newer)
{
    setenv("CosmosDB__accountEndpoint", "https://acct.documents.azure.com:443/", 1);
    unsetenv("IDENTITY_ENDPOINT");
    unsetenv("IDENTITY_HEADER");
    setenv("MSI_ENDPOINT", "http://127.0.0.1:41741/msi/token", 1);
    setenv("MSI_SECRET", "s3cret", 1);
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_str_eq(cfg.identity_endpoint, "http://127.0.0.1:41741/msi/token");
    cr_expect_str_eq(cfg.identity_header, "s3cret");
    es_config_release(&cfg);
    /* The newer names win when both are set. */
    setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:41742/msi/token", 1);
    setenv("IDENTITY_HEADER", "newer", 1);
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_str_eq(cfg.identity_endpoint, "http://127.0.0.1:41742/msi/token");
    cr_expect_str_eq(cfg.identity_header, "newer");
    es_config_release(&cfg);
}

Test(config, honours_the_identity_connection_settings)
{
    setenv("CosmosDB__accountEndpoint", "https://acct.documents.azure.com:443/", 1);
    setenv("CosmosDB__credential", "managedidentity", 1);
    setenv("CosmosDB__clientId", "0b5f1f3e-1111-4222-8333-444455556666", 1);
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_str_eq(cfg.identity_client_id, "0b5f1f3e-1111-4222-8333-444455556666");
    es_config_release(&cfg);

    struct es_error err = {0};
    setenv("CosmosDB__credential", "clientsecret", 1);
    cr_expect_eq(es_config_load(&cfg, &err), ES_EINVAL);
    cr_expect(strstr(err.message, "CosmosDB__credential") != NULL, "%s", err.message);

    es_error_clear(&err);
    setenv("CosmosDB__credential", "ManagedIdentity", 1);
    setenv("CosmosDB__managedIdentityResourceId", "/subscriptions/x/id", 1);
    cr_expect_eq(es_config_load(&cfg, &err), ES_EINVAL, "clientId and resource id both");
}

Test(config, on_an_azure_plan_a_missing_cosmos_setting_stops_start_up)
{
    unsetenv("CosmosDB");
    unsetenv("CosmosDB__accountEndpoint");
    const char *markers[] = {"WEBSITE_INSTANCE_ID", "WEBSITE_SKU", "LEGION_SERVICE_HOST"};
    for (size_t i = 0; i < 3; i++) {
        setenv(markers[i], "x", 1);
        struct es_config cfg;
        struct es_error err = {0};
        cr_expect_eq(es_config_load(&cfg, &err), ES_EINVAL, "%s", markers[i]);
        cr_expect(strstr(err.message, "CosmosDB__accountEndpoint") != NULL, "%s",
                  err.message);
        cr_expect(strstr(err.message, markers[i]) != NULL, "%s", err.message);
        unsetenv(markers[i]);
    }
    /* A generic container platform sets CONTAINER_NAME too: alone, it is not Azure. */
    setenv("CONTAINER_NAME", "box", 1);
    unsetenv("WEBSITE_SITE_NAME");
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_eq(cfg.store_kind, ES_STORE_SQLITE);
    es_config_release(&cfg);
    setenv("WEBSITE_SITE_NAME", "func-abc", 1);
    cr_expect_eq(es_config_load(&cfg, NULL), ES_EINVAL);
}

Test(config, refuses_cosmos_names_that_cosmos_refuses)
{
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    const char *bad[] = {"a/b", "a?b", "a#b", "a\\b", "trailing ", long_name};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("VIEWS_CONTAINER", bad[i], 1);
        struct es_config cfg;
        struct es_error err = {0};
        cr_expect_eq(es_config_load(&cfg, &err), ES_EINVAL, "'%.20s'", bad[i]);
        cr_expect(strstr(err.message, "VIEWS_CONTAINER") != NULL, "%s", err.message);
    }
}

Test(config, the_envelope_cap_follows_the_body_cap_unless_set)
{
    unsetenv("MAX_ENVELOPE_BYTES");
    setenv("MAX_BODY_BYTES", "1000", 1);
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_eq(cfg.max_envelope_bytes, 6000 + (256u << 10));
    es_config_release(&cfg);
    setenv("MAX_ENVELOPE_BYTES", "5000", 1);
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_eq(cfg.max_envelope_bytes, 5000, "an explicit setting wins");
    es_config_release(&cfg);
}

Test(config, the_integration_webhook_is_off_unless_set)
{
    unsetenv("INTEGRATION_WEBHOOK_URL");
    struct es_config cfg;
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_null(cfg.integration_webhook_url);
    cr_expect_eq(cfg.integration_webhook_timeout_ms, 10000);
    es_config_release(&cfg);
    setenv("INTEGRATION_WEBHOOK_URL", "http://127.0.0.1:9000/events", 1);
    setenv("INTEGRATION_WEBHOOK_TIMEOUT_MS", "2500", 1);
    cr_assert_eq(es_config_load(&cfg, NULL), ES_OK);
    cr_expect_str_eq(cfg.integration_webhook_url, "http://127.0.0.1:9000/events");
    cr_expect_eq(cfg.integration_webhook_timeout_ms, 2500);
    es_config_release(&cfg);
}

Test(config, the_integration_webhook_must_be_an_http_url)
{
    const char *bad[] = {
        "ftp://host/x", "file:///etc/passwd",    "127.0.0.1:9000",  "http://",
        "http:///path", "https://:80/x",         "http://host/a b", "http://host/\t",
        "gopher://h",   "HTTP://host.example/x", "http://@host/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("INTEGRATION_WEBHOOK_URL", bad[i], 1);
        struct es_config cfg;
        struct es_error err = {0};
        cr_expect_eq(es_config_load(&cfg, &err), ES_EINVAL, "value '%s'", bad[i]);
        cr_expect(strstr(err.message, "INTEGRATION_WEBHOOK_URL") != NULL, "%s",
                  err.message);
    }
    const char *good[] = {"http://localhost:8080/events",
                          "https://hooks.example.com/x?y=1", "http://[::1]:9000/"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_expect(es_config_webhook_url_valid(good[i]), "%s", good[i]);
}
