using Microsoft.Extensions.Options;

namespace LlmStack.Web.Chat;

public static class ChatExtensions
{
    /// <summary>What the chat page keeps per person: their conversations in their browser, and their request budget.</summary>
    public static IHostApplicationBuilder AddChat(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<ConversationStore>();
        builder.Services.AddOptionsWithValidateOnStart<ChatLimitOptions>().BindConfiguration(ChatLimitOptions.SectionName);
        builder.Services.AddSingleton<IValidateOptions<ChatLimitOptions>, ChatLimitOptionsValidator>();
        builder.Services.AddSingleton<ChatRequestLimiter>();
        return builder;
    }
}
