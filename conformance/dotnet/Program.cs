// Conformance check: the Event Hubs client that the Azure Functions host uses (Azure.Messaging.EventHubs),
// against an Event Hub-compatible endpoint (the local IoT Hub emulator, or a real IoT Hub / Event Hub).
//
// Reads everything through the client's public API and prints ONE JSON document to stdout. Exit codes:
//   0  the document was printed;
//   1  a client call failed (exception type and message on stderr);
//   2  bad arguments, or an --expected-* check failed (message on stderr);
//   3  the overall time limit ran out.
// The connection string comes from an environment variable and is never printed.

using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Core.Amqp;
using Azure.Messaging.EventHubs;
using Azure.Messaging.EventHubs.Consumer;
using Azure.Messaging.EventHubs.Primitives;
using Azure.Messaging.EventHubs.Processor;

namespace EventHubsConformance;

internal sealed record Options(
    string ConnectionStringVariable,
    string ConsumerGroup,
    int? ExpectedCount,
    IReadOnlyList<string>? ExpectedMessageIds,
    long? FromSequenceNumber,
    DateTimeOffset? FromEnqueuedTime,
    TimeSpan IdleWait,
    TimeSpan Timeout,
    bool SkipProcessor)
{
    public const string Usage = """
        usage: dotnet EventHubsConformance.dll [options]
          --connection-string-env NAME   variable holding the Event Hub connection string (default EVENTHUB_CONNECTION_STRING)
          --consumer-group NAME          consumer group (default $Default)
          --expected-count N             fail (exit 2) unless reading every partition from Earliest returns N events
          --expected-message-ids A,B,..  fail (exit 2) unless each of these message ids is read exactly once from Earliest
          --from-sequence-number N       sequence-number position for every partition (default: each partition's middle event)
          --from-enqueued-time ISO8601   enqueued-time position for every partition (default: each partition's middle event)
          --idle-ms N                    MaximumWaitTime of the reads: how long a quiet partition counts as caught up (default 1000)
          --timeout-seconds N            overall limit (default 120)
          --skip-processor               do not run the EventProcessor<T> part
        """;

    public static Options Parse(string[] args)
    {
        var o = new Options("EVENTHUB_CONNECTION_STRING", "$Default", null, null, null, null,
            TimeSpan.FromMilliseconds(1000), TimeSpan.FromSeconds(120), false);
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--connection-string-env" => o with { ConnectionStringVariable = Value() },
                "--consumer-group" => o with { ConsumerGroup = Value() },
                "--expected-count" => o with { ExpectedCount = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--expected-message-ids" => o with
                {
                    ExpectedMessageIds = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                },
                "--from-sequence-number" => o with { FromSequenceNumber = long.Parse(Value(), CultureInfo.InvariantCulture) },
                "--from-enqueued-time" => o with
                {
                    FromEnqueuedTime = DateTimeOffset.Parse(Value(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
                },
                "--idle-ms" => o with { IdleWait = TimeSpan.FromMilliseconds(int.Parse(Value(), CultureInfo.InvariantCulture)) },
                "--timeout-seconds" => o with { Timeout = TimeSpan.FromSeconds(int.Parse(Value(), CultureInfo.InvariantCulture)) },
                "--skip-processor" => o with { SkipProcessor = true },
                _ => throw new ArgumentException($"unknown argument {args[i]}"),
            };
        }
        if (o.IdleWait <= TimeSpan.Zero || o.Timeout <= TimeSpan.Zero)
            throw new ArgumentException("--idle-ms and --timeout-seconds must be positive");
        return o;
    }
}

internal sealed class ExpectationFailed(string message) : Exception(message);

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        Options options;
        string connectionString;
        try
        {
            if (args.Contains("--help") || args.Contains("-h"))
            {
                Console.WriteLine(Options.Usage);
                return 0;
            }
            options = Options.Parse(args);
            connectionString = Environment.GetEnvironmentVariable(options.ConnectionStringVariable) ?? "";
            if (connectionString.Length == 0)
                throw new ArgumentException($"environment variable {options.ConnectionStringVariable} is not set");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync($"{e.GetType().FullName}: {e.Message}\n{Options.Usage}");
            return 2;
        }

        // Hard guarantee that the process ends even if a close or a dispose does not return.
        var watchdog = new Thread(() =>
        {
            Thread.Sleep(options.Timeout + TimeSpan.FromSeconds(15));
            Console.Error.WriteLine($"TimeoutException: the check did not end within {options.Timeout.TotalSeconds + 15} s");
            Environment.Exit(3);
        }) { IsBackground = true };
        watchdog.Start();

        using var cancellation = new CancellationTokenSource(options.Timeout);
        try
        {
            var document = await Check.RunAsync(connectionString, options, cancellation.Token);
            var json = document.ToJsonString(new JsonSerializerOptions
            {
                WriteIndented = true,
                Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            });
            await Console.Out.WriteLineAsync(json);
            await Console.Out.FlushAsync();
            return 0;
        }
        catch (ExpectationFailed e)
        {
            await Console.Error.WriteLineAsync($"{e.GetType().FullName}: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"TimeoutException: the check did not end within {options.Timeout.TotalSeconds} s");
            return 3;
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync(Describe(e));
            return 1;
        }
    }

    /// <summary>Type and message of an exception and its inner ones, with the Event Hubs failure reason.</summary>
    private static string Describe(Exception e)
    {
        var lines = new List<string>();
        for (Exception? current = e; current != null; current = current.InnerException)
        {
            var reason = current is EventHubsException eh ? $" (Reason: {eh.Reason}, IsTransient: {eh.IsTransient})" : "";
            lines.Add($"{current.GetType().FullName}: {current.Message}{reason}");
            if (current is AggregateException aggregate && aggregate.InnerExceptions.Count > 1)
            {
                lines.AddRange(aggregate.InnerExceptions.Skip(1).Select(x => $"  and {x.GetType().FullName}: {x.Message}"));
            }
        }
        // The stack shows where in the client a reply from the server was refused; it holds no secret.
        return string.Join("\n  caused by ", lines) + "\n\n" + e;
    }
}

/// <summary>One read of one partition from one position.</summary>
internal sealed record ReadResult(
    string PartitionId,
    string Kind,
    JsonObject Position,
    IReadOnlyList<EventData> Events,
    LastEnqueuedEventProperties? LastEnqueued,
    bool ReachedLastEnqueued);

internal static class Check
{
    public static async Task<JsonObject> RunAsync(string connectionString, Options options, CancellationToken ct)
    {
        var clientOptions = new EventHubConsumerClientOptions
        {
            RetryOptions = new EventHubsRetryOptions
            {
                Mode = EventHubsRetryMode.Fixed,
                MaximumRetries = 2,
                Delay = TimeSpan.FromMilliseconds(500),
                TryTimeout = TimeSpan.FromSeconds(20),
            },
        };
        await using var consumer = new EventHubConsumerClient(options.ConsumerGroup, connectionString, clientOptions);

        // 1. Management: the hub, then each partition.
        var hub = await consumer.GetEventHubPropertiesAsync(ct);
        var partitions = new Dictionary<string, PartitionProperties>();
        foreach (var id in hub.PartitionIds)
            partitions[id] = await consumer.GetPartitionPropertiesAsync(id, ct);
        var partitionIdsFromList = await consumer.GetPartitionIdsAsync(ct);

        // 2. Every partition from Earliest, until its last enqueued event and then a quiet MaximumWaitTime
        //    (so that an event delivered twice or beyond the last one would show).
        var earliest = await Task.WhenAll(hub.PartitionIds.Select(id =>
            ReadAsync(consumer, id, "earliest", EventPosition.Earliest, new JsonObject { ["type"] = "earliest" },
                partitions[id], drainAfterLast: true, options, ct)));
        var earliestEvents = earliest.SelectMany(r => r.Events.Select(e => (r.PartitionId, Event: e))).ToList();
        CheckExpectations(earliestEvents.Select(x => x.Event).ToList(), options);

        // 3. The same partitions from other positions. Event Hubs allows at most 5 readers per partition and consumer
        //    group, so the reads of one partition go one after the other; the partitions go in parallel.
        var positionalPerPartition = await Task.WhenAll(earliest.Select(async read =>
        {
            var id = read.PartitionId;
            var props = partitions[id];
            var middle = read.Events.Count > 0 ? read.Events[read.Events.Count / 2] : null;
            var reads = new List<(string Kind, EventPosition Position, JsonObject Json)>
            {
                ("latest", EventPosition.Latest, new JsonObject { ["type"] = "latest" }),
            };
            if ((options.FromSequenceNumber ?? middle?.SequenceNumber) is long n)
            {
                foreach (var inclusive in new[] { false, true })
                {
                    reads.Add((inclusive ? "sequenceNumberInclusive" : "sequenceNumberExclusive",
                        EventPosition.FromSequenceNumber(n, inclusive),
                        new JsonObject { ["type"] = "sequenceNumber", ["sequenceNumber"] = n, ["inclusive"] = inclusive }));
                }
            }
            if (middle?.OffsetString is string offset)
            {
                foreach (var inclusive in new[] { false, true })
                {
                    reads.Add((inclusive ? "offsetInclusive" : "offsetExclusive", EventPosition.FromOffset(offset, inclusive),
                        new JsonObject { ["type"] = "offset", ["offset"] = offset, ["inclusive"] = inclusive }));
                }
            }
            if ((options.FromEnqueuedTime ?? middle?.EnqueuedTime) is DateTimeOffset t)
            {
                reads.Add(("enqueuedTime", EventPosition.FromEnqueuedTime(t), new JsonObject
                {
                    ["type"] = "enqueuedTime",
                    ["enqueuedTime"] = Json.Time(t),
                    ["enqueuedTimeUnixMs"] = t.ToUnixTimeMilliseconds(),
                }));
            }
            var results = new List<ReadResult>();
            foreach (var (kind, position, json) in reads)
                results.Add(await ReadAsync(consumer, id, kind, position, json, props, false, options, ct));
            return results;
        }));
        var positionalResults = positionalPerPartition.SelectMany(r => r).ToList();

        // 4. PartitionReceiver (the primitive the processors build on): batches from Earliest.
        var receiverResults = await Task.WhenAll(hub.PartitionIds.Select(id =>
            ReceiveWithPartitionReceiverAsync(connectionString, options, id, partitions[id], clientOptions.RetryOptions, ct)));

        // 5. EventProcessor<T>, the base of the Functions host's Event Hubs listener: a first run from Earliest,
        //    then a restart from checkpoints written at each partition's middle event (by offset, as the host does).
        JsonObject? processor = null;
        if (!options.SkipProcessor)
        {
            var firstRun = await ProcessorRun.RunAsync(connectionString, options, new Dictionary<string, EventPosition>(),
                earliestEvents.Count, clientOptions.RetryOptions, ct);
            var checkpoints = new Dictionary<string, EventPosition>();
            var checkpointJson = new JsonObject();
            var expectedAfterCheckpoints = 0;
            foreach (var read in earliest.Where(r => r.Events.Count > 0))
            {
                var index = read.Events.Count / 2;
                var middle = read.Events[index];
                checkpoints[read.PartitionId] = EventPosition.FromOffset(middle.OffsetString, false);
                checkpointJson[read.PartitionId] = new JsonObject
                {
                    ["offset"] = middle.OffsetString,
                    ["sequenceNumber"] = middle.SequenceNumber,
                };
                expectedAfterCheckpoints += read.Events.Count - index - 1;
            }
            var secondRun = await ProcessorRun.RunAsync(connectionString, options, checkpoints,
                expectedAfterCheckpoints, clientOptions.RetryOptions, ct);
            processor = new JsonObject
            {
                ["fromEarliest"] = firstRun,
                ["checkpoints"] = checkpointJson,
                ["fromCheckpoints"] = secondRun,
            };
        }

        var reads = new JsonObject { ["earliest"] = new JsonArray(earliest.Select(Json.Read).ToArray<JsonNode?>()) };
        foreach (var group in positionalResults.GroupBy(r => r.Kind))
            reads[group.Key] = new JsonArray(group.Select(Json.Read).ToArray<JsonNode?>());

        return new JsonObject
        {
            ["client"] = new JsonObject
            {
                ["package"] = "Azure.Messaging.EventHubs",
                ["version"] = typeof(EventHubConsumerClient).Assembly
                    .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
                ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                ["fullyQualifiedNamespace"] = consumer.FullyQualifiedNamespace,
                ["eventHubName"] = consumer.EventHubName,
                ["consumerGroup"] = consumer.ConsumerGroup,
            },
            ["eventHub"] = new JsonObject
            {
                ["name"] = hub.Name,
                ["createdOn"] = Json.Time(hub.CreatedOn),
                ["partitionIds"] = new JsonArray(hub.PartitionIds.Select(p => (JsonNode?)p).ToArray()),
                ["partitionIdsFromGetPartitionIds"] = new JsonArray(partitionIdsFromList.Select(p => (JsonNode?)p).ToArray()),
                ["isGeoReplicationEnabled"] = hub.IsGeoReplicationEnabled,
            },
            ["partitions"] = new JsonArray(hub.PartitionIds.Select(id => (JsonNode?)Json.Partition(partitions[id])).ToArray()),
            ["earliestEventCount"] = earliestEvents.Count,
            ["reads"] = reads,
            ["partitionReceiver"] = new JsonArray(receiverResults.Select(Json.Read).ToArray<JsonNode?>()),
            ["processor"] = processor,
        };
    }

    private static void CheckExpectations(IReadOnlyList<EventData> events, Options options)
    {
        if (options.ExpectedCount is int count && events.Count != count)
            throw new ExpectationFailed($"expected {count} events from Earliest across all partitions, read {events.Count}");
        if (options.ExpectedMessageIds is { } ids)
        {
            var seen = events.GroupBy(e => e.MessageId ?? "").ToDictionary(g => g.Key, g => g.Count());
            var missing = ids.Where(id => !seen.ContainsKey(id)).ToList();
            var repeated = ids.Where(id => seen.GetValueOrDefault(id) > 1).ToList();
            if (missing.Count > 0 || repeated.Count > 0)
            {
                throw new ExpectationFailed(
                    $"message ids not read from Earliest: [{string.Join(",", missing)}]; read more than once: [{string.Join(",", repeated)}]");
            }
        }
    }

    /// <summary>
    /// Reads one partition from a position with ReadEventsFromPartitionAsync, until the partition's last enqueued
    /// event (as GetPartitionPropertiesAsync reported it) or a quiet MaximumWaitTime. With drainAfterLast (Earliest)
    /// it allows up to 5 quiet periods before that event, and waits one more quiet period after it.
    /// </summary>
    private static async Task<ReadResult> ReadAsync(EventHubConsumerClient consumer, string partitionId, string kind,
        EventPosition position, JsonObject positionJson, PartitionProperties properties, bool drainAfterLast,
        Options options, CancellationToken ct)
    {
        var readOptions = new ReadEventOptions
        {
            MaximumWaitTime = options.IdleWait,
            TrackLastEnqueuedEventProperties = true,
        };
        var events = new List<EventData>();
        LastEnqueuedEventProperties? last = null;
        var reached = false;
        // Earliest waits up to 5 quiet periods for events the partition properties announced; other reads stop at the first.
        var quietPeriodsLeft = drainAfterLast ? 5 : 1;
        await foreach (var partitionEvent in consumer.ReadEventsFromPartitionAsync(partitionId, position, readOptions, ct))
        {
            if (partitionEvent.Data is null)
            {
                if (reached || properties.IsEmpty || --quietPeriodsLeft <= 0) break;
                continue;
            }
            events.Add(partitionEvent.Data);
            last = partitionEvent.Partition.ReadLastEnqueuedEventProperties();
            if (!properties.IsEmpty && partitionEvent.Data.SequenceNumber >= properties.LastEnqueuedSequenceNumber)
            {
                reached = true;
                if (!drainAfterLast) break;
            }
        }
        return new ReadResult(partitionId, kind, positionJson, events, last, reached);
    }

    private static async Task<ReadResult> ReceiveWithPartitionReceiverAsync(string connectionString, Options options,
        string partitionId, PartitionProperties properties, EventHubsRetryOptions retry, CancellationToken ct)
    {
        await using var receiver = new PartitionReceiver(options.ConsumerGroup, partitionId, EventPosition.Earliest,
            connectionString, new PartitionReceiverOptions
            {
                DefaultMaximumReceiveWaitTime = options.IdleWait,
                TrackLastEnqueuedEventProperties = true,
                RetryOptions = retry,
            });
        var events = new List<EventData>();
        var reached = false;
        var quietPeriodsLeft = 5;
        while (true)
        {
            var batch = (await receiver.ReceiveBatchAsync(25, options.IdleWait, ct)).ToList();
            if (batch.Count == 0)
            {
                if (reached || properties.IsEmpty || --quietPeriodsLeft <= 0) break;
                continue;
            }
            events.AddRange(batch);
            if (!properties.IsEmpty && batch[^1].SequenceNumber >= properties.LastEnqueuedSequenceNumber) reached = true;
        }
        var last = receiver.ReadLastEnqueuedEventProperties();
        var receiverProperties = await receiver.GetPartitionPropertiesAsync(ct);
        var position = new JsonObject
        {
            ["type"] = "earliest",
            ["partitionPropertiesThroughReceiver"] = Json.Partition(receiverProperties),
        };
        return new ReadResult(partitionId, "partitionReceiver", position, events, last, reached);
    }
}

/// <summary>
/// An EventProcessor&lt;T&gt; with in-memory ownership and checkpoints, run until it has seen a number of events.
/// The Functions host's Event Hubs trigger derives its listener from the same base class.
/// </summary>
internal sealed class ProcessorRun : EventProcessor<EventProcessorPartition>
{
    private readonly ConcurrentDictionary<string, EventProcessorPartitionOwnership> ownership = new();
    private readonly IReadOnlyDictionary<string, EventPosition> checkpoints;
    private readonly ConcurrentQueue<(string PartitionId, EventData Event)> received = new();
    private readonly ConcurrentQueue<string> errors = new();
    private readonly ConcurrentQueue<string> initialized = new();
    private readonly TaskCompletionSource enough = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int expected;

    private ProcessorRun(string connectionString, Options options, IReadOnlyDictionary<string, EventPosition> checkpoints,
        int expected, EventHubsRetryOptions retry)
        : base(25, options.ConsumerGroup, connectionString, new EventProcessorOptions
        {
            LoadBalancingStrategy = LoadBalancingStrategy.Greedy,
            LoadBalancingUpdateInterval = TimeSpan.FromSeconds(1),
            MaximumWaitTime = options.IdleWait,
            TrackLastEnqueuedEventProperties = true,
            DefaultStartingPosition = EventPosition.Earliest,
            RetryOptions = retry,
        })
    {
        this.checkpoints = checkpoints;
        this.expected = expected;
        if (expected == 0) enough.TrySetResult();
    }

    public static async Task<JsonObject> RunAsync(string connectionString, Options options,
        IReadOnlyDictionary<string, EventPosition> checkpoints, int expected, EventHubsRetryOptions retry, CancellationToken ct)
    {
        var processor = new ProcessorRun(connectionString, options, checkpoints, expected, retry);
        var started = DateTimeOffset.UtcNow;
        await processor.StartProcessingAsync(ct);
        var timedOut = false;
        try
        {
            // Bounded: at most a third of the overall limit per run.
            await processor.enough.Task.WaitAsync(options.Timeout / 3, ct);
            // Then one quiet period, so that events delivered twice or beyond the expected ones would show.
            await Task.Delay(options.IdleWait, ct);
        }
        catch (TimeoutException)
        {
            timedOut = true;
        }
        var elapsed = DateTimeOffset.UtcNow - started;
        using var stopLimit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stopLimit.CancelAfter(TimeSpan.FromSeconds(30));
        await processor.StopProcessingAsync(stopLimit.Token);

        return new JsonObject
        {
            ["expected"] = expected,
            ["timedOut"] = timedOut,
            ["elapsedMs"] = (long)elapsed.TotalMilliseconds,
            ["initializedPartitions"] = new JsonArray(processor.initialized.Order().Select(p => (JsonNode?)p).ToArray()),
            ["errors"] = new JsonArray(processor.errors.Select(e => (JsonNode?)e).ToArray()),
            ["events"] = new JsonArray(processor.received
                .Select(x => (JsonNode?)new JsonObject
                {
                    ["partition"] = x.PartitionId,
                    ["sequenceNumber"] = x.Event.SequenceNumber,
                    ["offset"] = x.Event.OffsetString,
                    ["messageId"] = x.Event.MessageId,
                    ["body"] = Json.Body(x.Event),
                }).ToArray()),
        };
    }

    protected override Task OnProcessingEventBatchAsync(IEnumerable<EventData> events, EventProcessorPartition partition,
        CancellationToken cancellationToken)
    {
        foreach (var e in events) received.Enqueue((partition.PartitionId, e));
        if (received.Count >= expected) enough.TrySetResult();
        return Task.CompletedTask;
    }

    protected override Task OnProcessingErrorAsync(Exception exception, EventProcessorPartition partition,
        string operationDescription, CancellationToken cancellationToken)
    {
        errors.Enqueue($"{operationDescription} (partition {partition?.PartitionId ?? "-"}): {exception.GetType().FullName}: {exception.Message}");
        return Task.CompletedTask;
    }

    protected override Task OnInitializingPartitionAsync(EventProcessorPartition partition, CancellationToken cancellationToken)
    {
        initialized.Enqueue(partition.PartitionId);
        return Task.CompletedTask;
    }

    protected override Task<IEnumerable<EventProcessorPartitionOwnership>> ListOwnershipAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IEnumerable<EventProcessorPartitionOwnership>>(ownership.Values.ToList());

    protected override Task<IEnumerable<EventProcessorPartitionOwnership>> ClaimOwnershipAsync(
        IEnumerable<EventProcessorPartitionOwnership> desiredOwnership, CancellationToken cancellationToken)
    {
        var claimed = new List<EventProcessorPartitionOwnership>();
        foreach (var desired in desiredOwnership)
        {
            desired.LastModifiedTime = DateTimeOffset.UtcNow;
            desired.Version = Guid.NewGuid().ToString();
            ownership[desired.PartitionId] = desired;
            claimed.Add(desired);
        }
        return Task.FromResult<IEnumerable<EventProcessorPartitionOwnership>>(claimed);
    }

    protected override Task<IEnumerable<EventProcessorCheckpoint>> ListCheckpointsAsync(CancellationToken cancellationToken) =>
        Task.FromResult(checkpoints.Select(c => MakeCheckpoint(c.Key, c.Value)));

    protected override Task<EventProcessorCheckpoint?> GetCheckpointAsync(string partitionId, CancellationToken cancellationToken) =>
        Task.FromResult(checkpoints.TryGetValue(partitionId, out var position) ? MakeCheckpoint(partitionId, position) : null);

    private EventProcessorCheckpoint MakeCheckpoint(string partitionId, EventPosition position) => new()
    {
        FullyQualifiedNamespace = FullyQualifiedNamespace,
        EventHubName = EventHubName,
        ConsumerGroup = ConsumerGroup,
        PartitionId = partitionId,
        StartingPosition = position,
    };
}

internal static class Json
{
    public static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    public static JsonObject Partition(PartitionProperties p) => new()
    {
        ["id"] = p.Id,
        ["eventHubName"] = p.EventHubName,
        ["beginningSequenceNumber"] = p.BeginningSequenceNumber,
        ["lastEnqueuedSequenceNumber"] = p.LastEnqueuedSequenceNumber,
        ["lastEnqueuedOffset"] = p.LastEnqueuedOffsetString,
        ["lastEnqueuedTime"] = Time(p.LastEnqueuedTime),
        ["isEmpty"] = p.IsEmpty,
    };

    public static JsonObject Read(ReadResult r) => new()
    {
        ["partition"] = r.PartitionId,
        ["position"] = r.Position.DeepClone(),
        ["reachedLastEnqueued"] = r.ReachedLastEnqueued,
        ["events"] = new JsonArray(r.Events.Select(e => (JsonNode?)Event(r.PartitionId, e)).ToArray()),
        ["lastEnqueuedEventProperties"] = r.LastEnqueued is { } l
            ? new JsonObject
            {
                ["sequenceNumber"] = l.SequenceNumber,
                ["offset"] = l.OffsetString,
                ["enqueuedTime"] = l.EnqueuedTime is { } t ? Time(t) : null,
                ["lastReceivedTime"] = l.LastReceivedTime is { } lr ? Time(lr) : null,
            }
            : null,
    };

    public static JsonObject Event(string partitionId, EventData e)
    {
        var raw = e.GetRawAmqpMessage();
        var annotationTypes = new JsonObject();
        foreach (var (key, value) in raw.MessageAnnotations) annotationTypes[key] = value?.GetType().Name;
        var propertyTypes = new JsonObject();
        foreach (var (key, value) in e.Properties) propertyTypes[key] = value?.GetType().Name;
        return new JsonObject
        {
            ["partition"] = partitionId,
            ["sequenceNumber"] = e.SequenceNumber,
            ["offset"] = e.OffsetString,
            ["enqueuedTime"] = Time(e.EnqueuedTime),
            ["enqueuedTimeUnixMs"] = e.EnqueuedTime.ToUnixTimeMilliseconds(),
            ["messageId"] = e.MessageId,
            ["correlationId"] = e.CorrelationId,
            ["contentType"] = e.ContentType,
            ["contentEncoding"] = raw.Properties.ContentEncoding,
            ["partitionKey"] = e.PartitionKey,
            ["properties"] = new JsonObject(e.Properties.Select(p => KeyValuePair.Create(p.Key, Value(p.Value)))),
            ["propertyTypes"] = propertyTypes,
            ["systemProperties"] = new JsonObject(e.SystemProperties.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Stringify(p.Value)))),
            ["messageAnnotationTypes"] = annotationTypes,
            ["bodyType"] = raw.Body.BodyType.ToString(),
            ["body"] = Body(e),
        };
    }

    public static string? Body(EventData e)
    {
        var body = e.GetRawAmqpMessage().Body;
        if (body.BodyType == AmqpMessageBodyType.Data) return e.EventBody.ToString();
        return body.TryGetValue(out var value) ? Stringify(value) : body.ToString();
    }

    private static JsonNode? Value(object? v) => v switch
    {
        null => null,
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        int or long or short or sbyte or byte or ushort or uint => JsonValue.Create(Convert.ToInt64(v, CultureInfo.InvariantCulture)),
        float or double => JsonValue.Create(Convert.ToDouble(v, CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(Stringify(v)),
    };

    private static string? Stringify(object? v) => v switch
    {
        null => null,
        DateTime d => d.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset d => Time(d),
        byte[] bytes => Convert.ToBase64String(bytes),
        ArraySegment<byte> segment => Convert.ToBase64String(segment),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString(),
    };
}
