/**
 * Counters of the model server and their Prometheus text exposition (format 0.0.4): requests by route and status,
 * prompt and generated tokens, time to first token (histogram), decode throughput, request timeouts, requests
 * cancelled by their client, queue length and batch size.
 */

const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the scheduler reports at scrape time. */
export interface Gauges {
  queue: number;
  active: number;
  slots: number;
  kvBytes: number;
}

/** The server's counters; one instance per server. */
export class Metrics {
  #requests = new Map<string, number>();
  #generated = 0;
  #prompt = 0;
  #ttft = { buckets: new Array(TTFT_BUCKETS.length).fill(0) as number[], sum: 0, count: 0 };
  #decodeTokens = 0;
  #decodeSeconds = 0;
  #lastTokensPerSec = 0;
  #timeouts = { queue: 0, generation: 0 };
  #cancelled = 0;
  /** Filled in by the service once the engine exists. */
  gauges: () => Gauges = () => ({ queue: 0, active: 0, slots: 0, kvBytes: 0 });

  /** Counts one answered request. */
  request(route: string, status: number): void {
    const key = `route="${route}",status="${status}"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
  }

  /** Counts prompt tokens of an accepted request. */
  promptTokens(n: number): void {
    this.#prompt += n;
  }

  /** Counts generated tokens. */
  tokens(n: number): void {
    this.#generated += n;
  }

  /** Records one time to first token. */
  firstToken(ms: number): void {
    const s = ms / 1000;
    TTFT_BUCKETS.forEach((b, i) => {
      if (s <= b) this.#ttft.buckets[i]++;
    });
    this.#ttft.sum += s;
    this.#ttft.count++;
  }

  /** Records one decode chunk: tokens computed (sequences × steps) and its wall time. */
  chunk(tokens: number, ms: number): void {
    if (tokens === 0 || ms <= 0) return;
    this.#decodeTokens += tokens;
    this.#decodeSeconds += ms / 1000;
    this.#lastTokensPerSec = tokens / (ms / 1000);
  }

  /** Counts one generation that timed out, waiting in the queue or generating. */
  timeout(where: "queue" | "generation"): void {
    this.#timeouts[where]++;
  }

  /** Counts one request whose client went away before its answer was complete. */
  cancelled(): void {
    this.#cancelled++;
  }

  /** The Prometheus text page. */
  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels ? `{${labels}}` : ""} ${v}`);
    };
    metric(
      "storyteller_requests_total",
      "counter",
      "HTTP requests answered, by route and status.",
      [...this.#requests.entries()].sort(),
    );
    metric("storyteller_prompt_tokens_total", "counter", "Prompt tokens of accepted requests.", [[
      "",
      this.#prompt,
    ]]);
    metric(
      "storyteller_generated_tokens_total",
      "counter",
      "Tokens generated, those of requests that timed out or whose client went away included.",
      [["", this.#generated]],
    );
    const t = this.#ttft;
    lines.push(
      "# HELP storyteller_time_to_first_token_seconds Time from a request joining the queue to its first token.",
      "# TYPE storyteller_time_to_first_token_seconds histogram",
    );
    TTFT_BUCKETS.forEach((b, i) =>
      lines.push(`storyteller_time_to_first_token_seconds_bucket{le="${b}"} ${t.buckets[i]}`)
    );
    lines.push(
      `storyteller_time_to_first_token_seconds_bucket{le="+Inf"} ${t.count}`,
      `storyteller_time_to_first_token_seconds_sum ${t.sum}`,
      `storyteller_time_to_first_token_seconds_count ${t.count}`,
    );
    metric(
      "storyteller_decode_tokens_total",
      "counter",
      "Tokens computed by decode chunks (batch × steps).",
      [[
        "",
        this.#decodeTokens,
      ]],
    );
    metric("storyteller_decode_seconds_total", "counter", "Wall time of decode chunks.", [[
      "",
      this.#decodeSeconds,
    ]]);
    metric("storyteller_tokens_per_second", "gauge", "Decode throughput of the last chunk, all sequences.", [[
      "",
      this.#lastTokensPerSec,
    ]]);
    metric("storyteller_request_timeouts_total", "counter", "Generations ended by --request-timeout.", [
      ['where="queue"', this.#timeouts.queue],
      ['where="generation"', this.#timeouts.generation],
    ]);
    metric(
      "storyteller_cancelled_requests_total",
      "counter",
      "Requests whose client went away before the answer was complete; their generation stopped there.",
      [["", this.#cancelled]],
    );
    const g = this.gauges();
    metric("storyteller_queue_length", "gauge", "Requests waiting for a batch slot.", [["", g.queue]]);
    metric("storyteller_active_sequences", "gauge", "Sequences in the running batch.", [["", g.active]]);
    metric("storyteller_batch_slots", "gauge", "Most sequences decoded together.", [["", g.slots]]);
    metric("storyteller_kv_cache_bytes", "gauge", "Bytes of KV cache on the GPU.", [["", g.kvBytes]]);
    return lines.join("\n") + "\n";
  }
}
