using System.Text.Json;
using Microsoft.JSInterop;

namespace LlmStack.Web.Chat;

/// <summary>
/// Keeps conversations and settings in the browser's <c>localStorage</c>, so they survive a reload and a server
/// restart and stay private to that browser. Only usable once the page is interactive (JS interop).
/// </summary>
public sealed class ConversationStore(IJSRuntime js, ILogger<ConversationStore> logger)
{
    // Versioned keys: a future shape change can migrate or ignore old data instead of failing to parse it.
    private const string ConversationsKey = "llmstack.conversations.v1";
    private const string SettingsKey = "llmstack.settings.v1";

    /// <summary>Beyond this many, the oldest conversations are dropped (localStorage holds ~5 MB per site).</summary>
    public const int MaxConversations = 100;

    public async Task<List<Conversation>> LoadConversationsAsync() =>
        await ReadAsync(ConversationsKey, ChatStorageJsonContext.Default.ListConversation) ?? [];

    public async Task<ChatSettings> LoadSettingsAsync() =>
        await ReadAsync(SettingsKey, ChatStorageJsonContext.Default.ChatSettings) ?? new ChatSettings();

    /// <summary>Saves every non-empty conversation, newest first. Returns false when the browser refused.</summary>
    public Task<bool> SaveConversationsAsync(IEnumerable<Conversation> conversations)
    {
        var kept = conversations
            .Where(c => c.Turns.Count > 0)
            .OrderByDescending(c => c.UpdatedAt)
            .Take(MaxConversations)
            .ToList();
        return WriteAsync(ConversationsKey, JsonSerializer.Serialize(kept, ChatStorageJsonContext.Default.ListConversation));
    }

    public Task<bool> SaveSettingsAsync(ChatSettings settings) =>
        WriteAsync(SettingsKey, JsonSerializer.Serialize(settings, ChatStorageJsonContext.Default.ChatSettings));

    private async Task<T?> ReadAsync<T>(string key, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        var json = await js.InvokeAsync<string?>("localStorage.getItem", key);
        if (string.IsNullOrEmpty(json))
        {
            return default;
        }
        try
        {
            return JsonSerializer.Deserialize(json, typeInfo);
        }
        catch (JsonException ex)
        {
            // Hand-edited or corrupt storage must not lock the person out of the page: start afresh.
            logger.LogWarning(ex, "Ignoring unreadable browser storage entry {Key}", key);
            return default;
        }
    }

    private async Task<bool> WriteAsync(string key, string json)
    {
        try
        {
            await js.InvokeVoidAsync("localStorage.setItem", key, json);
            return true;
        }
        catch (JSException ex)
        {
            // QuotaExceededError, or storage disabled by the browser's privacy settings.
            logger.LogWarning(ex, "The browser refused to store {Key} ({Length} characters)", key, json.Length);
            return false;
        }
    }
}
