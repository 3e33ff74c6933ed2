using Aspire.Hosting.ApplicationModel;

namespace LlmStack.AppHost.Compose;

/// <summary>How a resource is published as a compose service (in the style of Aspire's <c>PublishAsDockerComposeService</c>).</summary>
internal static class ComposeResourceBuilderExtensions
{
    /// <summary>Sets what only Compose needs for this resource: profiles, health check, restart, limits, host ports.</summary>
    public static IResourceBuilder<T> PublishAsComposeService<T>(this IResourceBuilder<T> builder, Action<ComposeServiceAnnotation> configure)
        where T : IResource
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);

        var annotation = builder.Resource.Annotations.OfType<ComposeServiceAnnotation>().LastOrDefault();
        if (annotation is null)
        {
            annotation = new ComposeServiceAnnotation();
            builder.WithAnnotation(annotation);
        }
        configure(annotation);
        return builder;
    }

    /// <summary>
    /// An HTTP health check on <paramref name="path"/> in both worlds: Aspire's (what <c>WaitFor</c> waits for under
    /// <c>dotnet run</c>) and the compose service's (<c>llmstack-probe</c>, the probe LlmStack's images carry).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithHttpHealthProbe(this IResourceBuilder<ProjectResource> builder, string path)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);

        return builder
            .WithHttpHealthCheck(path)
            .PublishAsComposeService(service => service.Healthcheck = ComposeHealthcheck.Command(["CMD", "llmstack-probe", path], startPeriod: "1m"));
    }

    /// <summary>
    /// Publishes the resource once per profile that configures a variant: <c>&lt;name&gt;-&lt;profile&gt;</c>, with the
    /// variant's environment, waits and volumes added to the resource's own, and reachable as <c>&lt;name&gt;</c>.
    /// </summary>
    public static IResourceBuilder<T> WithComposeProfileVariant<T>(this IResourceBuilder<T> builder, string profile, Action<ComposeProfileVariant> configure)
        where T : IResource
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(profile);
        ArgumentNullException.ThrowIfNull(configure);

        var annotation = builder.Resource.Annotations.OfType<ComposeProfileVariantsAnnotation>().LastOrDefault();
        if (annotation is null)
        {
            annotation = new ComposeProfileVariantsAnnotation();
            builder.WithAnnotation(annotation);
        }
        if (annotation.Variants.Any(v => v.Profile == profile))
        {
            throw new InvalidOperationException($"'{builder.Resource.Name}' already has a variant for the profile '{profile}'.");
        }
        var variant = new ComposeProfileVariant(profile);
        configure(variant);
        annotation.Variants.Add(variant);
        return builder;
    }
}
