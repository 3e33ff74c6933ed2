using System.Text.Json.Serialization;

namespace LlmStack.Web.Chat;

[JsonConverter(typeof(JsonStringEnumConverter<ChatTurnRole>))]
public enum ChatTurnRole
{
    User,
    Assistant,
}
