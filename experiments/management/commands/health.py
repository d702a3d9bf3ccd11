from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from experiments import health


class Command(BaseCommand):
    help = (
        "Is the instance able to run experiments: broker reachable, workers and their queues, batches "
        "waiting or stalled, database. Exits 1 when something needs a person."
    )

    def handle(self, *args, **options) -> None:
        report = health.check()
        write = self.stdout.write
        if report.broker_error:
            write(f"Broker    {report.broker_url}: NOT REACHABLE ({report.broker_error})")
        else:
            lengths = ", ".join(f"{q} {n}" for q, n in report.queue_lengths.items())
            write(f"Broker    {report.broker_url}: reachable (messages waiting: {lengths})")
        for worker in report.workers:
            write(
                f"Worker    {worker.name}: queues {', '.join(worker.queues) or '-'}; "
                f"running {len(worker.active)} task{'s' if len(worker.active) != 1 else ''}"
            )
        if not report.workers and not report.broker_error:
            write("Workers   none answering")
        waiting = sum(report.waiting.values())
        oldest = (
            f", oldest from an experiment started {report.oldest_waiting_minutes:.0f} min ago"
            if report.oldest_waiting_minutes is not None
            else ""
        )
        write(
            f"Batches   {waiting} waiting ({', '.join(f'{q} {n}' for q, n in report.waiting.items()) or 'none'}{oldest}), "
            f"{report.running} running, {len(report.stalled)} stalled"
        )
        if report.database_error:
            write(f"Database  NOT ANSWERING ({report.database_error})")
        else:
            write(f"Database  {report.database}: answered in {report.database_ms:.1f} ms")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("Healthy."))
            return
        for problem in report.problems:
            self.stderr.write(f"- {problem}")
        raise CommandError("Not healthy: see above.", returncode=1)
