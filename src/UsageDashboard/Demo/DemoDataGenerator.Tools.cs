using UsageDashboard.Store;

namespace UsageDashboard.Demo;

/// <summary>The runs of dbt, Evidently and Jetty, each shaped as that tool reports one (Meltano's are in DemoDataGenerator.Meltano.cs).</summary>
public static partial class DemoDataGenerator
{
    private sealed partial class Simulation
    {
        /// <summary>dbt (Snowplow): an invocation start and end sharing the invocation id; the adapter rides on the end.</summary>
        private void DbtRun(Installation inst, DateTime t, bool onboarding, List<TelemetryEvent> into)
        {
            var command = onboarding ? "init" : DemoCatalog.DbtCommands.Pick(_random);
            var version = VersionAt(_dbt, inst, t);
            var regression = version == BrokenToolVersion && inst.OsName == BrokenOs;
            var risk = command switch
            {
                "test" => 2.0,
                "build" or "source freshness" => 1.5,
                "run" => 1.0,
                "compile" => 0.8,
                _ => 0.5,
            };
            var failed = _random.NextDouble() < (regression ? BrokenToolFailureRate : ToolFailureRate * risk);
            var medianSeconds = command switch
            {
                "build" => 180,
                "run" => 90,
                "snapshot" => 60,
                "docs generate" => 45,
                "test" => 40,
                "compile" or "source freshness" => 20,
                "seed" => 15,
                "deps" => 8,
                _ => 4,
            };
            var durationMs = DurationMs(medianSeconds * (inst.Kind == Kind.Dev ? 1.0 : 1.6), failed);
            var (start, end) = Fit(t, durationMs);
            var invocation = NewGuid().ToString();
            var error = failed
                ? (regression ? DemoCatalog.DbtWindowsRegressionErrors : DemoCatalog.DbtErrors).Pick(_random)
                : null;
            var python = PythonAt(inst, t);
            var started = NewEvent(inst, "invocation", invocation, start, command, RunStatus.Started, version, python, []);
            started.Properties = _features.Dbt(inst.Id, command, end: false, failed);
            into.Add(started);
            var ended = NewEvent(inst, "invocation", invocation, end, command, failed ? RunStatus.Failed : RunStatus.Succeeded, version, python,
                [Plugin(inst.Adapter!, "adapter", VersionAt(_adapters, inst, t))]);
            ended.DurationMs = durationMs;
            ended.ErrorType = error;
            ended.Properties = _features.Dbt(inst.Id, command, end: true, failed);
            into.Add(ended);
        }

        /// <summary>Evidently: one event per action, its outcome an exception class name or none.</summary>
        private void EvidentlyRun(Installation inst, DateTime t, bool onboarding, List<TelemetryEvent> into)
        {
            var command = onboarding ? "report" : DemoCatalog.EvidentlyCommands.Pick(_random);
            var failed = _random.NextDouble() < (command == "ui" ? 0.02 : 0.04);
            var e = NewEvent(inst, command, null, t, command, failed ? RunStatus.Failed : RunStatus.Succeeded,
                VersionAt(_evidently, inst, t), PythonAt(inst, t), []);
            e.ErrorType = failed ? DemoCatalog.EvidentlyErrors.Pick(_random) : null;
            e.Properties = _features.Evidently(command);
            into.Add(e);
        }

        /// <summary>Jetty: one event per command, no outcome (Jetty does not report one), connector types as plugins.</summary>
        private void JettyRun(Installation inst, DateTime t, bool onboarding, List<TelemetryEvent> into)
        {
            var command = onboarding ? "invoked_new" : DemoCatalog.JettyCommands.Pick(_random);
            var e = NewEvent(inst, command, null, t, command, RunStatus.Unknown, VersionAt(_jetty, inst, t), null, [.. inst.Connectors]);
            // A Rust binary: no runtime, and the platform is only linux/mac/windows.
            e.OsVersion = null;
            e.Properties = DemoFeatures.Jetty(inst.Id);
            into.Add(e);
        }
    }
}
