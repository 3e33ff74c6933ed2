// Drives LlmStack's /v1/responses with the official `openai` npm package and prints what a client observes
// as one JSON object; the xunit test (Api/Responses/ResponsesNodeSdkTests.cs) asserts on it.
// Usage: node responses.mjs <scenario> <baseURL>
import OpenAI from 'openai';

const [scenario, baseURL] = process.argv.slice(2);
const client = new OpenAI({ apiKey: 'unused', baseURL, maxRetries: 0, timeout: 60_000 });

const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

async function errorOf(call) {
  try {
    await call();
    return null;
  } catch (error) {
    return { name: error.constructor.name, status: error.status, message: error.message, code: error.code ?? null };
  }
}

const scenarios = {
  async create() {
    const response = await client.responses.create({ model: 'scripted', input: 'Hi!' });
    return { id: response.id, status: response.status, output_text: response.output_text, usage: response.usage, output: response.output };
  },

  async stream() {
    const stream = await client.responses.create({ model: 'scripted', input: 'Hi!', stream: true });
    const types = [];
    const sequence = [];
    let text = '';
    let final = null;
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') final = event.response;
    }
    return { types, sequence, text, final_text: final?.output_text, usage: final?.usage };
  },

  async length() {
    const response = await client.responses.create({ model: 'looping', input: 'Go on', max_output_tokens: 5 });
    return { status: response.status, incomplete_details: response.incomplete_details, output_text: response.output_text, usage: response.usage };
  },

  async functionCall() {
    const first = await client.responses.create({ model: 'tools', input: 'Weather in Paris?', tools: [weather] });
    const call = first.output.find((item) => item.type === 'function_call');
    const second = await client.responses.create({
      model: 'tools',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ temperature_c: 18 }) }],
      tools: [weather],
    });
    return { call, first_usage: first.usage, second_previous: second.previous_response_id, second_usage: second.usage };
  },

  async continued() {
    const first = await client.responses.create({ model: 'scripted', input: 'Hi!' });
    const second = await client.responses.create({ model: 'scripted', previous_response_id: first.id, input: 'Tell me more.' });
    return { first_usage: first.usage, second_usage: second.usage, second_text: second.output_text };
  },

  async retrieveAndDelete() {
    const created = await client.responses.create({ model: 'scripted', input: 'Hi!' });
    const retrieved = await client.responses.retrieve(created.id);
    await client.responses.delete(created.id);
    const afterDelete = await errorOf(() => client.responses.retrieve(created.id));
    return { created_id: created.id, retrieved_id: retrieved.id, retrieved_text: retrieved.output_text, after_delete: afterDelete };
  },

  async errors() {
    return {
      unknown_model: await errorOf(() => client.responses.create({ model: 'no-such-model', input: 'Hi!' })),
      built_in_tool: await errorOf(() => client.responses.create({ model: 'scripted', input: 'Search', tools: [{ type: 'web_search' }] })),
      stream_refused: await errorOf(async () => {
        const stream = await client.responses.create({ model: 'small-context', input: 'x'.repeat(2000), stream: true });
        for await (const _ of stream) { /* drained */ }
      }),
    };
  },
};

const run = scenarios[scenario];
if (!run) {
  console.error(`Unknown scenario '${scenario}'. Known: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
console.log(JSON.stringify(await run()));
