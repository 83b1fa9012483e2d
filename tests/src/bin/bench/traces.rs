//! What tracing costs a tool call. In this process: the spans and the `traceparent` a call
//! makes (a tool call, its upstream request, both as the server makes them), with tracing off
//! (no endpoint: ids, no export) against no tracing at all. End to end: the same server four
//! times over stdio, called in turn — twice with tracing off and no trace context (the two
//! differ only by chance: that is the noise), once off with the caller's `traceparent` (as the
//! agent host calls), once exporting every span to a local OTLP receiver.

use rmcp::model::{CallToolRequestParams, RequestMetaObject};

use super::*;

/// The spans of one tool call, as `mcp-common` makes them, with the upstream's headers.
fn one_call(traceparent: &str) -> usize {
    let call = ::tracing::info_span!(
        "tool_call",
        otel.kind = "server",
        otel.name = %format_args!("tools/call {}", "run_report"),
        tenant = "bench-shop",
        server = "ga4-mcp",
        tool = "run_report",
        request_id = 7,
    );
    telemetry::propagate::follow(&call, Some(traceparent));
    let _in_call = call.enter();
    let upstream = ::tracing::info_span!(
        "upstream",
        otel.kind = "client",
        otel.name = "POST",
        otel.status_code = ::tracing::field::Empty,
        http.request.method = "POST",
        server.address = "analyticsdata.googleapis.com",
        url.path = "/v1beta/properties/1:runReport",
        http.response.status_code = ::tracing::field::Empty,
    );
    let headers = telemetry::propagate::headers(&upstream);
    upstream.record("http.response.status_code", 200);
    headers.len()
}

fn time_calls(n: usize) -> Duration {
    // As a host that does not export sends it: not sampled.
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let started = Instant::now();
    let mut headers = 0;
    for _ in 0..n {
        headers += std::hint::black_box(one_call(traceparent));
    }
    std::hint::black_box(headers);
    started.elapsed() / n as u32
}

fn params(tool: &str, arguments: &Value, traceparent: Option<String>) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(arguments.as_object().cloned().unwrap_or_default());
    if let Some(tp) = traceparent {
        let mut meta = RequestMetaObject::new();
        meta.set_traceparent(tp);
        params.meta = Some(meta);
    }
    params
}

/// A fresh `traceparent`, as a host starting a trace per call sends it: not sampled when the
/// host does not export, sampled when it does.
fn fresh_traceparent(sampled: bool) -> String {
    let trace: u128 = rand::random::<u128>() | 1;
    let span: u64 = rand::random::<u64>() | 1;
    format!("00-{trace:032x}-{span:016x}-0{}", u8::from(sampled))
}

pub(super) async fn tracing_bench(sandbox: &Sandbox, case: &ServerCase, args: &Args) -> Result<()> {
    let name = case.binary;
    let (tool, arguments) = &case.calls[0];
    let receiver = berryboo_e2e::OtlpReceiver::start().await?;
    let start = |export: bool| -> Result<TokioChildProcess> {
        let mut cmd = server_command(name, sandbox, &case.credentials.path(), case.flags);
        if export {
            cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint);
        }
        Ok(TokioChildProcess::new(cmd)?)
    };
    let off_a = ().serve(start(false)?).await?;
    let off_b = ().serve(start(false)?).await?;
    let off_traced = ().serve(start(false)?).await?;
    let exporting = ().serve(start(true)?).await?;
    let servers = [&off_a, &off_b, &off_traced, &exporting];
    // (sends a traceparent, sampled)
    let traced = [(false, false), (false, false), (true, false), (true, true)];
    if case.reset_every.is_some() {
        sandbox.control_post("reset", json!({})).await?;
    }
    for _ in 0..25 {
        for (server, (traced, sampled)) in servers.iter().zip(traced) {
            let tp = traced.then(|| fresh_traceparent(sampled));
            ok(&server.call_tool(params(tool, arguments, tp)).await?);
        }
    }
    let mut times: [Vec<Duration>; 4] = Default::default();
    for i in 0..args.calls {
        if let Some(n) = case.reset_every
            && i % (n / 4).max(1) == 0
        {
            sandbox.control_post("reset", json!({})).await?;
        }
        // Who goes first changes every iteration, so no server always follows another's call.
        for k in 0..4 {
            let j = (i + k) % 4;
            let (with, sampled) = traced[j];
            let tp = with.then(|| fresh_traceparent(sampled));
            let request = params(tool, arguments, tp);
            let started = Instant::now();
            ok(&servers[j].call_tool(request).await?);
            times[j].push(started.elapsed());
        }
    }
    for t in &mut times {
        t.sort();
    }
    let p50 = |t: &Vec<Duration>| percentile(t, 0.5);
    let signed = |a: Duration, b: Duration| {
        if a >= b {
            format!("+{}", fmt(a - b))
        } else {
            format!("-{}", fmt(b - a))
        }
    };
    println!(
        "{name:<14} tracing {tool:<22} off p50 {} and {} (noise {})  | off with traceparent p50 {} ({} vs off)  | exporting p50 {} p99 {} ({} vs off)  (n={} each)",
        fmt(p50(&times[0])),
        fmt(p50(&times[1])),
        signed(p50(&times[1]), p50(&times[0])),
        fmt(p50(&times[2])),
        signed(p50(&times[2]), p50(&times[0]).min(p50(&times[1]))),
        fmt(p50(&times[3])),
        fmt(percentile(&times[3], 0.99)),
        signed(p50(&times[3]), p50(&times[0]).min(p50(&times[1]))),
        args.calls
    );
    for server in [off_a, off_b, off_traced, exporting] {
        server.cancel().await?;
    }
    // The exporting server's spans reached the receiver (at exit at the latest).
    let exported = receiver
        .until(|spans| spans.iter().filter(|s| s.service == name).count() >= args.calls)
        .await
        .map(|s| s.len())
        .unwrap_or(0);
    println!("{name:<14} tracing: {exported} spans exported to the local OTLP receiver");
    Ok(())
}

/// In this process: one call's spans with tracing off, against no subscriber at all.
pub(super) fn span_cost() {
    const N: usize = 200_000;
    let bare =
        ::tracing::subscriber::with_default(::tracing::subscriber::NoSubscriber::default(), || {
            time_calls(N / 10);
            time_calls(N)
        });
    // As every process sets it up without an endpoint (errors only, so no line is written).
    let _guard = telemetry::init("bench", telemetry::LogFormat::Text, "error");
    time_calls(N / 10);
    let off = time_calls(N);
    println!(
        "tracing off: a tool call's spans and traceparent cost {} ns (no subscriber: {} ns; {} ns added per call)",
        off.as_nanos(),
        bare.as_nanos(),
        off.as_nanos().saturating_sub(bare.as_nanos())
    );
}
