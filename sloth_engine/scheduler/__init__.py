"""Schedules: workflow files fired by cron expressions.

`cron.CronSpec` is the maths (croniter, with time zones and an optional seconds field);
`sloth_engine.store.schedules.ScheduleStore` keeps schedules in the store. The loop that
fires them lives in the master (sloth_daemon.master.scheduler_loop).
"""
