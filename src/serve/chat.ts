/**
 * OpenAI chat on a story model: a `/v1/chat/completions` body checked into messages and generation options, the
 * conversation turned into the prompt (the model's own chat template when its tokenizer_config.json has one,
 * else the story-opening default below), and the answer's shapes (`chat.completion` and its stream chunks with
 * `delta`s and chat logprobs). Not the generation (choices.ts, service.ts).
 */
import { Template } from "@huggingface/jinja";
import type { ChoiceShape } from "./choices.ts";
import {
  BadRequest,
  choiceFields,
  generateOptions,
  isObject,
  MAX_LOGPROBS,
  MAX_TOKENS_LIMIT,
  num,
  rejectUnknown,
  type RequestLimits,
} from "./params.ts";
import type { Completion, GenerateOptions, TokenEntry } from "./service.ts";

/** One message of a conversation, its content as text. */
export interface ChatMessage {
  role: string;
  content: string;
}

/** Turns a conversation into the prompt text the model continues. */
export type ChatFormat = (messages: ChatMessage[]) => string;

/** Roles a message may have (OpenAI's). */
const ROLES = ["system", "developer", "user", "assistant", "tool"];

/**
 * The default for a model without a chat template — story models, which know no turns: the conversation becomes
 * the story opening. System and developer messages are dropped (a story model follows no instructions); the other
 * messages' texts, trimmed, are joined by single spaces, so "Once upon a time" then "there was a fox." reads as
 * one story for the model to go on with.
 */
export function storyOpening(messages: ChatMessage[]): string {
  return messages
    .filter((m) => m.role !== "system" && m.role !== "developer")
    .map((m) => m.content.trim())
    .filter((t) => t.length > 0)
    .join(" ");
}

/**
 * A Hugging Face chat template (Jinja, from tokenizer_config.json's `chat_template`) as a ChatFormat: rendered
 * with `messages`, `add_generation_prompt: true` and the config's special tokens. Throws on a template that does
 * not parse; a render error (e.g. the template's own `raise_exception` on roles it refuses) is a BadRequest.
 */
export function chatTemplate(source: string, tokens: Record<string, string> = {}): ChatFormat {
  const template = new Template(source);
  return (messages) => {
    try {
      return template.render({ ...tokens, messages, add_generation_prompt: true });
    } catch (err) {
      throw new BadRequest(
        `Invalid value for 'messages': the model's chat template failed: ${(err as Error).message}`,
      );
    }
  };
}

/** A validated `/v1/chat/completions` body. */
export interface ChatRequest {
  messages: ChatMessage[];
  options: GenerateOptions;
  n: number;
  stream: boolean;
  includeUsage: boolean;
}

const CHAT_FIELDS = [
  "model",
  "messages",
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "top_k",
  "repetition_penalty",
  "stop",
  "seed",
  "n",
  "stream",
  "stream_options",
  "user",
  "logprobs",
  "top_logprobs",
  "frequency_penalty",
  "presence_penalty",
  "logit_bias",
  "response_format",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "store",
  "metadata",
] as const;

/** The text of message `i`'s content: a string, or a list of text parts. */
function contentOf(content: unknown, i: number): string {
  if (typeof content === "string") return content;
  if (content == null) return "";
  if (Array.isArray(content)) {
    return content.map((part, j) => {
      if (isObject(part) && part.type === "text" && typeof part.text === "string") return part.text;
      throw new BadRequest(
        `Invalid value for 'messages[${i}].content[${j}]': only text parts ({"type": "text", "text": "..."}) ` +
          `are supported, got ${JSON.stringify(isObject(part) ? part.type : part)?.slice(0, 40)}`,
      );
    }).join("");
  }
  throw new BadRequest(
    `Invalid value for 'messages[${i}].content': expected a string or a list of text parts`,
  );
}

/** Parses an OpenAI chat body; fields we cannot honour with a non-default value are refused. */
export function parseChat(body: unknown, limits: RequestLimits): ChatRequest {
  if (!isObject(body)) throw new BadRequest("Invalid request: the body must be a JSON object");
  rejectUnknown(body, CHAT_FIELDS, "the request body");
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new BadRequest(
      `Invalid value for 'messages': expected a non-empty list of {"role", "content"} objects`,
    );
  }
  const messages = body.messages.map((m, i): ChatMessage => {
    if (!isObject(m) || typeof m.role !== "string" || !ROLES.includes(m.role)) {
      throw new BadRequest(
        `Invalid value for 'messages[${i}].role': expected one of ${ROLES.join(", ")}, got ${
          JSON.stringify(isObject(m) ? m.role : m)?.slice(0, 40)
        }`,
      );
    }
    return { role: m.role, content: contentOf(m.content, i) };
  });
  if (body.max_tokens != null && body.max_completion_tokens != null) {
    throw new BadRequest(`Invalid request: set 'max_completion_tokens' or 'max_tokens', not both`);
  }
  const options = generateOptions(body, limits.vocabSize);
  if (body.max_completion_tokens != null) {
    options.maxTokens = num(
      "max_completion_tokens",
      body.max_completion_tokens,
      (x) => Number.isInteger(x) && x >= 0 && x <= MAX_TOKENS_LIMIT,
      `an integer from 0 to ${MAX_TOKENS_LIMIT}`,
    );
  }
  const { n, stream, includeUsage } = choiceFields(body, 1, limits.maxChoices);
  if (body.logprobs != null && typeof body.logprobs !== "boolean") {
    throw new BadRequest(`Invalid value for 'logprobs': expected a boolean`);
  }
  if (body.top_logprobs != null) {
    const top = num(
      "top_logprobs",
      body.top_logprobs,
      (x) => Number.isInteger(x) && x >= 0 && x <= MAX_LOGPROBS,
      `an integer from 0 to ${MAX_LOGPROBS}`,
    );
    if (body.logprobs !== true) {
      throw new BadRequest(`Invalid value for 'top_logprobs': it needs 'logprobs' set to true`);
    }
    options.logprobs = top;
  } else if (body.logprobs === true) options.logprobs = 0;
  const rf = body.response_format;
  if (rf != null && !(isObject(rf) && rf.type === "text")) {
    throw new BadRequest(
      `Unsupported value for 'response_format': this server only writes text ({"type": "text"})`,
    );
  }
  if (
    (Array.isArray(body.tools) && body.tools.length > 0) || (body.tools != null && !Array.isArray(body.tools))
  ) {
    throw new BadRequest(`Unsupported value for 'tools': a story model cannot call tools`);
  }
  if (body.tool_choice != null && body.tool_choice !== "none") {
    throw new BadRequest(`Unsupported value for 'tool_choice': a story model cannot call tools; use "none"`);
  }
  return { messages, options, n, stream, includeUsage };
}

/** Chat's `logprobs` object of a choice's token entries. */
function chatLogprobs(entries: TokenEntry[]) {
  return {
    content: entries.map((e) => ({
      token: e.token,
      logprob: e.logprob ?? 0,
      bytes: e.bytes,
      top_logprobs: e.alternatives ?? [],
    })),
    refusal: null,
  };
}

/** The `chat.completion` and `chat.completion.chunk` shapes of one request. */
export function chatShape(
  base: { id: string; created: number; model: string },
  wantLogprobs: boolean,
  includeUsage: boolean,
): ChoiceShape {
  const head = { id: base.id, created: base.created, model: base.model, system_fingerprint: null };
  const chunkHead = { ...head, object: "chat.completion.chunk" };
  const usageField = includeUsage ? { usage: null } : {};
  const delta = (
    index: number,
    d: Record<string, unknown>,
    entries: TokenEntry[] | null,
    finish: string | null,
  ) => ({
    ...chunkHead,
    choices: [{
      index,
      delta: d,
      logprobs: wantLogprobs && entries ? chatLogprobs(entries) : null,
      finish_reason: finish,
    }],
    ...usageField,
  });
  return {
    opening: (index) => delta(index, { role: "assistant", content: "" }, null, null),
    chunk: (index, text, entries, finish) =>
      finish === null ? delta(index, { content: text }, entries, null) : delta(index, {}, null, finish),
    usage: (usage) => ({ ...chunkHead, choices: [], usage }),
    whole: (chosen: Completion[], usage) => ({
      ...head,
      object: "chat.completion",
      choices: chosen.map((r, index) => ({
        index,
        message: { role: "assistant", content: r.text, refusal: null },
        logprobs: wantLogprobs ? chatLogprobs(r.logprobs ?? []) : null,
        finish_reason: r.finishReason,
      })),
      usage,
    }),
  };
}
