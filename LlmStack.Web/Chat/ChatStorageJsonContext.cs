using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmStack.Web.Chat;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<Conversation>))]
[JsonSerializable(typeof(ChatSettings))]
internal sealed partial class ChatStorageJsonContext : JsonSerializerContext;
