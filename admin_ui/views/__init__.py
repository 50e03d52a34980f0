"""The console's own routes (a plugin's pages are added by ``Console.mount``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from admin_ui.views import (
    auth,
    conversations,
    dashboard,
    deliveries,
    logs,
    messages,
    operations,
    people,
    plugins,
    privacy,
    roles,
    search,
)


def console_routes() -> list[BaseRoute]:
    return [
        Route("/", dashboard.dashboard, methods=["GET"]),
        Route("/login", auth.login, methods=["GET", "POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/password", auth.password, methods=["GET", "POST"]),
        Route("/deliveries", deliveries.list_deliveries, methods=["GET"]),
        Route("/deliveries/bulk", deliveries.bulk, methods=["POST"]),
        Route("/deliveries/selected", deliveries.selected, methods=["POST"]),
        Route("/deliveries/{id}", deliveries.show_delivery, methods=["GET"]),
        Route("/deliveries/{id}/requeue", deliveries.requeue, methods=["POST"]),
        Route("/deliveries/{id}/cancel", deliveries.cancel, methods=["POST"]),
        Route("/deliveries/{id}/delete", deliveries.delete, methods=["POST"]),
        Route("/logs", logs.list_logs, methods=["GET"]),
        Route("/logs/{id:int}", logs.show_log, methods=["GET"]),
        Route("/messages", messages.list_messages, methods=["GET"]),
        Route("/messages/{id}", messages.show_message, methods=["GET"]),
        Route("/conversations", conversations.list_conversations, methods=["GET"]),
        Route("/conversations/{id}", conversations.show_conversation, methods=["GET"]),
        Route("/conversations/{id}/reply", conversations.reply, methods=["POST"]),
        Route("/plugins", plugins.list_plugins, methods=["GET"]),
        Route("/search", search.search_page, methods=["GET"]),
        Route("/destinations", operations.operations_page, methods=["GET"]),
        Route("/destinations/{name}/pause", operations.pause, methods=["POST"]),
        Route("/destinations/{name}/resume", operations.resume, methods=["POST"]),
        Route("/jobs/{name}/run", operations.run_job, methods=["POST"]),
        Route("/jobs/{name}/disable", operations.disable_job, methods=["POST"]),
        Route("/jobs/{name}/enable", operations.enable_job, methods=["POST"]),
        Route("/users", people.users_page, methods=["GET"]),
        Route("/users", people.create_user_view, methods=["POST"]),
        Route("/users/{id}", people.user_page, methods=["GET"]),
        Route("/users/{id}", people.change_user, methods=["POST"]),
        Route("/roles", roles.roles_page, methods=["GET"]),
        Route("/roles", roles.define, methods=["POST"]),
        Route("/roles/{name}/delete", roles.remove, methods=["POST"]),
        Route("/keys", people.keys_page, methods=["GET"]),
        Route("/keys", people.create_key_view, methods=["POST"]),
        Route("/keys/{id}/revoke", people.revoke_key_view, methods=["POST"]),
        Route("/keys/{id}/rotate", people.rotate_key_view, methods=["POST"]),
        Route("/privacy", privacy.privacy_page, methods=["GET"]),
        Route("/privacy/erase", privacy.erase, methods=["POST"]),
        Route("/privacy/export", privacy.export, methods=["POST"]),
    ]
