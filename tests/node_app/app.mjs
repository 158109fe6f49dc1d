// A Node app calling OpenAI through the official `openai` npm client, traced by OpenTelemetry JS's
// OpenAI instrumentation, exporting OTLP/HTTP protobuf spans to genai-lens' POST /v1/traces.
//   GENAI_LENS_URL=http://127.0.0.1:4318 FAKE_PROVIDER_URL=http://127.0.0.1:8080 node app.mjs
import { NodeSDK } from "@opentelemetry/sdk-node";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { OpenAIInstrumentation } from "@opentelemetry/instrumentation-openai";
import { createRequire } from "node:module";

const sdk = new NodeSDK({
  serviceName: "node-traced-app",
  traceExporter: new OTLPTraceExporter({ url: `${process.env.GENAI_LENS_URL}/v1/traces` }),
  instrumentations: [new OpenAIInstrumentation()],
});
sdk.start();

// Loaded with require() after start(): the instrumentation patches the CommonJS module as it loads
// (an ESM import would need node's --import @opentelemetry/instrumentation/hook.mjs).
const OpenAI = createRequire(import.meta.url)("openai").default;
const client = new OpenAI({ baseURL: `${process.env.FAKE_PROVIDER_URL}/v1`, apiKey: "sk-node-0000000000000000", maxRetries: 0 });
const hi = [{ role: "user", content: "hi" }];
const headers = (h) => ({ headers: h });

await client.chat.completions.create({ model: "gpt-4o", messages: hi },
  headers({ "x-fake-input-tokens": "1000", "x-fake-output-tokens": "200" }));
const stream = await client.chat.completions.create(
  { model: "gpt-4o-mini", messages: hi, stream: true, stream_options: { include_usage: true } },
  headers({ "x-fake-input-tokens": "300", "x-fake-output-tokens": "30", "x-fake-chunks": "3" }));
for await (const _ of stream) { /* drain */ }
try {
  await client.chat.completions.create({ model: "gpt-4o", messages: hi }, headers({ "x-fake-fault": "429" }));
} catch (error) {
  console.log(`expected error: ${error.status}`);
}
await client.embeddings.create({ model: "text-embedding-3-small", input: "x" }, headers({ "x-fake-input-tokens": "55" }));
await sdk.shutdown();  // flushes the spans
console.log("NODE APP DONE");
