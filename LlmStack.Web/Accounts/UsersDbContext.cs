using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace LlmStack.Web.Accounts;

/// <summary>The Web's accounts (ASP.NET Core Identity's schema) in <c>users.db</c>, a SQLite file in the data directory.</summary>
public sealed class UsersDbContext(DbContextOptions<UsersDbContext> options) : IdentityDbContext<IdentityUser>(options);

/// <summary>The one role the Web knows: administrators manage the accounts.</summary>
public static class Roles
{
    public const string Administrator = "admin";
}
