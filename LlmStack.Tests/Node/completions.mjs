// Drives LlmStack's /v1/completions and /v1/chat/completions (logprobs, n) with the official `openai` npm package and
// LangChain's completion model (@langchain/openai `OpenAI`), and prints what a client observes as one JSON object;
// the xunit test (Api/Completions/CompletionsNodeSdkTests.cs) asserts on it.
// Usage: node completions.mjs <scenario> <baseURL>
import OpenAI from 'openai';
import { OpenAI as LangChainOpenAI } from '@langchain/openai';

const [scenario, baseURL] = process.argv.slice(2);
const client = new OpenAI({ apiKey: 'unused', baseURL, maxRetries: 0, timeout: 60_000 });

const scenarios = {
  async completion() {
    const completion = await client.completions.create({ model: 'random', prompt: 'Hello', max_tokens: 5, temperature: 0, logprobs: 2, echo: true });
    return { object: completion.object, choices: completion.choices, usage: completion.usage };
  },

  async completionStream() {
    // Greedy: a seed makes sampling at temperature 1 repeatable only while each step's batch is composed alike, and the
    // step budget follows the measured step time (a loaded box batches differently); the argmax does not move.
    const stream = await client.completions.create({
      model: 'random', prompt: 'Hello', max_tokens: 6, temperature: 0, n: 2, stream: true, stream_options: { include_usage: true },
    });
    const texts = {};
    const finish = {};
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      for (const choice of chunk.choices) {
        texts[choice.index] = (texts[choice.index] ?? '') + choice.text;
        if (choice.finish_reason) finish[choice.index] = choice.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    const whole = await client.completions.create({ model: 'random', prompt: 'Hello', max_tokens: 6, temperature: 0, n: 2 });
    return { texts, finish, usage, chunks, whole: whole.choices.map((c) => c.text) };
  },

  async completionChoices() {
    const completion = await client.completions.create({ model: 'random', prompt: 'Once upon a time', max_tokens: 8, temperature: 1, seed: 9, n: 4 });
    return { choices: completion.choices.map((c) => ({ index: c.index, text: c.text, finish_reason: c.finish_reason })), usage: completion.usage };
  },

  async completionPrompts() {
    const request = { model: 'random', prompt: ['Hello', 'Goodbye now'], max_tokens: 3, temperature: 1, seed: 5, n: 2, echo: true };
    const whole = await client.completions.create(request);
    const stream = await client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    const texts = {};
    const finish = {};
    let usage = null;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        texts[choice.index] = (texts[choice.index] ?? '') + choice.text;
        if (choice.finish_reason) finish[choice.index] = choice.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    return {
      choices: whole.choices.map((c) => ({ index: c.index, text: c.text, finish_reason: c.finish_reason })),
      usage: whole.usage,
      streamed: { texts, finish, usage },
    };
  },

  async chatLogprobs() {
    const completion = await client.chat.completions.create({
      model: 'random', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 1, seed: 2, n: 2, logprobs: true, top_logprobs: 3,
    });
    return {
      choices: completion.choices.map((c) => ({ index: c.index, content: c.message.content, finish_reason: c.finish_reason, logprobs: c.logprobs })),
      usage: completion.usage,
    };
  },

  async chatStream() {
    const stream = await client.chat.completions.create({
      model: 'random', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, temperature: 1, seed: 6, n: 3,
      logprobs: true, top_logprobs: 1, stream: true, stream_options: { include_usage: true },
    });
    const contents = {};
    const tokens = {};
    const finish = {};
    let usage = null;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        contents[choice.index] = (contents[choice.index] ?? '') + (choice.delta.content ?? '');
        tokens[choice.index] = [...(tokens[choice.index] ?? []), ...(choice.logprobs?.content ?? [])];
        if (choice.finish_reason) finish[choice.index] = choice.finish_reason;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    return { contents, tokens, finish, usage };
  },

  async langchain() {
    const llm = new LangChainOpenAI({ model: 'random', apiKey: 'unused', configuration: { baseURL }, maxTokens: 5, temperature: 0, maxRetries: 0 });
    const invoked = await llm.invoke('Hello');
    let streamed = '';
    for await (const chunk of await llm.stream('Hello')) {
      streamed += chunk;
    }
    // LangChain sends a list of prompts as one request with OpenAI's prompt array.
    const generated = await llm.generate(['Hello', 'Goodbye']);
    return {
      invoked,
      streamed,
      generated: generated.generations.map((g) => g[0].text),
      finish: generated.generations.map((g) => g[0].generationInfo?.finishReason ?? null),
    };
  },
};

const run = scenarios[scenario];
if (!run) {
  console.error(`Unknown scenario '${scenario}'. Known: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
console.log(JSON.stringify(await run()));
