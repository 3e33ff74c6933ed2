using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.JSInterop;

namespace LlmStack.Web.Chat;

/// <summary>
/// Keeps each signed-in person's conversations and settings in their browser's <c>localStorage</c>, so they survive a
/// reload and a server restart and never reach the server's disk - under keys of their own, encrypted by the server
/// with a Data Protection key bound to that user. Another person signing in on the same browser sees none of them,
/// not even in the browser's developer tools. Only usable once the page is interactive (JS interop).
/// </summary>
public sealed class ConversationStore(
    IJSRuntime js, AuthenticationStateProvider authentication, IDataProtectionProvider protection, ILogger<ConversationStore> logger)
{
    // Versioned keys: a future shape change can migrate or ignore old data instead of failing to parse it.
    private const string ConversationsPrefix = "llmstack.conversations.v2.";
    private const string SettingsPrefix = "llmstack.settings.v2.";

    /// <summary>Before sign-in existed, the one browser's conversations were stored in clear under these keys.</summary>
    private const string UnownedConversationsKey = "llmstack.conversations.v1";
    private const string UnownedSettingsKey = "llmstack.settings.v1";

    private const string Purpose = "LlmStack.Web.ConversationStore";

    /// <summary>Beyond this many, the oldest conversations are dropped (localStorage holds ~5 MB per site).</summary>
    public const int MaxConversations = 100;

    private Owner? _owner;

    public async Task<List<Conversation>> LoadConversationsAsync() =>
        await ReadAsync(ConversationsPrefix, UnownedConversationsKey, ChatStorageJsonContext.Default.ListConversation) ?? [];

    public async Task<ChatSettings> LoadSettingsAsync() =>
        await ReadAsync(SettingsPrefix, UnownedSettingsKey, ChatStorageJsonContext.Default.ChatSettings) ?? new ChatSettings();

    /// <summary>Saves every non-empty conversation, newest first. Returns false when the browser refused.</summary>
    public Task<bool> SaveConversationsAsync(IEnumerable<Conversation> conversations)
    {
        var kept = conversations
            .Where(c => c.Turns.Count > 0)
            .OrderByDescending(c => c.UpdatedAt)
            .Take(MaxConversations)
            .ToList();
        return WriteAsync(ConversationsPrefix, JsonSerializer.Serialize(kept, ChatStorageJsonContext.Default.ListConversation));
    }

    public Task<bool> SaveSettingsAsync(ChatSettings settings) =>
        WriteAsync(SettingsPrefix, JsonSerializer.Serialize(settings, ChatStorageJsonContext.Default.ChatSettings));

    private async Task<T?> ReadAsync<T>(string prefix, string unownedKey, JsonTypeInfo<T> typeInfo)
    {
        var owner = await OwnerAsync();
        var key = prefix + owner.Id;
        var stored = await js.InvokeAsync<string?>("localStorage.getItem", key);
        string? json;
        if (!string.IsNullOrEmpty(stored))
        {
            try
            {
                json = owner.Protector.Unprotect(stored);
            }
            catch (CryptographicException ex)
            {
                // Written under Data Protection keys this server no longer has (its data volume was replaced): unreadable.
                logger.LogWarning(ex, "Ignoring browser storage entry {Key}: it cannot be decrypted with this server's keys", key);
                return default;
            }
        }
        else
        {
            // Conversations from before sign-in, when the page was open to whoever used this browser: the first person
            // to sign in here takes them over, encrypted from now on, and the clear copy goes.
            json = await js.InvokeAsync<string?>("localStorage.getItem", unownedKey);
            if (string.IsNullOrEmpty(json))
            {
                return default;
            }
            if (await WriteAsync(prefix, json))
            {
                await js.InvokeVoidAsync("localStorage.removeItem", unownedKey);
            }
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

    private async Task<bool> WriteAsync(string prefix, string json)
    {
        var owner = await OwnerAsync();
        var key = prefix + owner.Id;
        var protectedJson = owner.Protector.Protect(json);
        try
        {
            await js.InvokeVoidAsync("localStorage.setItem", key, protectedJson);
            return true;
        }
        catch (JSException ex)
        {
            // QuotaExceededError, or storage disabled by the browser's privacy settings.
            logger.LogWarning(ex, "The browser refused to store {Key} ({Length} characters)", key, protectedJson.Length);
            return false;
        }
    }

    /// <summary>The signed-in user of this page, and the protector only their conversations are encrypted with.</summary>
    private async Task<Owner> OwnerAsync()
    {
        if (_owner is { } known)
        {
            return known;
        }
        var state = await authentication.GetAuthenticationStateAsync();
        var id = state.User.FindFirstValue(ClaimTypes.NameIdentifier)
            ?? throw new InvalidOperationException("Conversations are stored per signed-in user; this page has no user.");
        return _owner = new Owner(id, protection.CreateProtector(Purpose, id));
    }

    private sealed record Owner(string Id, IDataProtector Protector);
}
