"""The parts every gateway process builds from its settings, built in one place."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.acceptance import Acceptance
from gateway.directory import Directory
from gateway.documents import DocumentFolder
from gateway.obligations import Deadlines, load_deadlines
from gateway.routing import Router
from gateway.settings import Settings
from gateway.store import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    directory: Directory
    router: Router
    folder: DocumentFolder
    acceptance: Acceptance
    deadlines: Deadlines

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.db_url)
        directory = Directory(store)
        router = Router.from_folder(settings.routing_rules, directory)
        folder = DocumentFolder(settings.documents_path)
        acceptance = Acceptance(settings, store, directory, router, folder)
        return cls(settings, store, directory, router, folder, acceptance, load_deadlines(settings.deadline_rules, router.rules))
