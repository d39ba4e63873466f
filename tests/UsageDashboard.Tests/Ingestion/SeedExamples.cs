namespace UsageDashboard.Tests.Ingestion;

/// <summary>The example events of the seed documents this product was created from (the shared seeds folder), verbatim (whitespace aside).</summary>
public static class SeedExamples
{
    /// <summary>Seed 000 as printed in Jetty's docs: note the missing comma after the "event" object.</summary>
    public const string JettyDocsLiteral = """
        {
            "environment": "dev",
            "event": {
                "name": "invoked_fetch",
                "properties": {
                    "connector_types": [
                        "dbt",
                        "snowflake",
                        "tableau"
                    ]
                }
            }
            "jetty_version": "0.1.0",
            "platform": "mac",
            "project_id": "8c48dc5c-7762-46f3-bc84-524bc85ef5a8",
            "schema_version": "0.0.1",
            "created": "2022-11-11T00:16:03.399191000Z",
            "user_id": "e677e873-2870-49c5-bc28-c1a8be520465"
        }
        """;

    /// <summary>Seed 000 as the Jetty CLI serializes it (serde_json: same fields and values, valid JSON).</summary>
    public const string Jetty = """
        {
            "environment": "dev",
            "event": {"name": "invoked_fetch", "properties": {"connector_types": ["dbt", "snowflake", "tableau"]}},
            "jetty_version": "0.1.0",
            "platform": "mac",
            "project_id": "8c48dc5c-7762-46f3-bc84-524bc85ef5a8",
            "schema_version": "0.0.1",
            "created": "2022-11-11T00:16:03.399191000Z",
            "user_id": "e677e873-2870-49c5-bc28-c1a8be520465"
        }
        """;

    /// <summary>Seed 000 as the Firestore document the CLI POSTs (firestore_serializer: RFC 3339 strings become timestampValue).</summary>
    public const string JettyFirestore = """
        {"fields": {
          "environment": {"stringValue": "dev"},
          "event": {"mapValue": {"fields": {
            "name": {"stringValue": "invoked_fetch"},
            "properties": {"mapValue": {"fields": {
              "connector_types": {"arrayValue": {"values": [
                {"stringValue": "dbt"}, {"stringValue": "snowflake"}, {"stringValue": "tableau"}]}}}}}}}},
          "jetty_version": {"stringValue": "0.1.0"},
          "platform": {"stringValue": "mac"},
          "project_id": {"stringValue": "8c48dc5c-7762-46f3-bc84-524bc85ef5a8"},
          "schema_version": {"stringValue": "0.0.1"},
          "created": {"timestampValue": "2022-11-11T00:16:03.399191000Z"},
          "user_id": {"stringValue": "e677e873-2870-49c5-bc28-c1a8be520465"}
        }}
        """;

    /// <summary>Seed 002: the Evidently 0.1 CLI event.</summary>
    public const string Evidently01 = """
        {
            "environment": {
              "os": "macOS-11.4-x86_64-i386-64bit",
              "python": {
                "version": "3.8.2",
                "interpreter": "CPython",
                "conda": false,
                "venv": true
              }
            },
            "evidently": {
              "version": "0.1.19.dev0"
            },
            "usage": {
              "type": "profile",
              "parts": [
                "data_drift"
              ],
              "tabs": [],
              "sampling": {
                "reference": {
                  "type": "none",
                  "ratio": "0.1",
                  "n": "1",
                  "random_seed": null
                },
                "current": {
                  "type": "nth",
                  "ratio": "0.1",
                  "n": "2",
                  "random_seed": null
                }
              }
            }
          }
        """;

    public const string EvidentlyApiKey = "s2s.5xmxpip2ax4ut5rrihfjhb.uqcoh71nviknmzp77ev6rd";

    /// <summary>Seed 003: the nine Evidently 0.4 events as Jitsu stored them (server fields included).</summary>
    public static readonly string[] Evidently04 =
    [
        Jitsu("2023-07-07T14:08:44.332528Z", "startup", "cfcc182d-5a2d-47d6-89dd-37590ec7b08a", "{}", "78.163.128.1"),
        Jitsu("2023-07-07T14:10:54.355143Z", "index", "96029e42-d2fc-4372-a1b5-b15e4d2ec6a0", "{}", "78.163.128.1"),
        Jitsu("2023-07-07T14:08:44.687956Z", "list_projects", "12ac8fe3-0396-430b-b035-e984a3ed2663", """{"project_count": 1}""", "78.163.128.1"),
        Jitsu("2023-07-07T14:10:54.474555Z", "get_project_info", "52bf5758-4b4c-4379-b2e6-0c1b123f3ce3", "{}", "78.163.128.1"),
        Jitsu("2023-07-07T14:08:46.260846Z", "project_dashboard", "2dc109d4-f322-42de-8db2-d9ce86787b8b", "{}", "78.163.128.1"),
        Jitsu("2023-07-18T13:15:16.138786Z", "add_project", "ac3d9bf3-8b26-406e-b781-30936c31da87", "{}", "88.225.219.1"),
        Jitsu("2023-07-07T14:08:51.369513Z", "list_reports", "826b5208-aae1-400f-acc6-0fb2ea91c967", """{"reports_count": 19}""", "78.163.128.1"),
        Jitsu("2023-07-07T14:08:46.902323Z", "list_test_suites", "540b1e8e-06cb-4e76-958d-6d49fed7f86e", "{}", "78.163.128.1"),
        Jitsu("2023-07-18T12:53:01.609245Z", "get_snapshot_data", "0426ef98-b35c-4040-bada-4e4b9380f4d5", """
            {"metric_generators": [], "metric_presets": [],
             "metrics": ["DatasetDriftMetric", "DatasetMissingValuesMetric", "ColumnDriftMetric", "ColumnQuantileMetric", "ColumnDriftMetric", "ColumnQuantileMetric"],
             "snapshot_type": "report", "test_generators": [], "test_presets": [], "tests": []}
            """, "88.225.219.1"),
    ];

    private static string Jitsu(string timestamp, string action, string eventId, string extra, string sourceIp) => $$"""
        {
          "_timestamp": "{{timestamp}}",
          "action": "{{action}}",
          "api_key": "{{EvidentlyApiKey}}",
          "error": null,
          "eventn_ctx_event_id": "{{eventId}}",
          "extra": {{extra}},
          "group_id": null,
          "interface": "service_backend",
          "os_name": "mac",
          "os_version": "13.0.1",
          "python_version": {"major": 3, "minor": 9, "patch": 16},
          "source_ip": "{{sourceIp}}",
          "src": "api",
          "tool_name": "evidently",
          "tool_version": "0.3.3",
          "user_id": "16d5bb6f-0400-4e2c-90f3-c3b31c95a1d3"
        }
        """;
}
