// Creates Kafka topics idempotently in a single JVM (TopicCommand needs one JVM per topic).
// Usage: java -cp 'var/kafka/libs/*:var/kafka/classes' CreateTopics <bootstrap> <partitions> <topic>...
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

public class CreateTopics {
    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: CreateTopics <bootstrap> <partitions> <topic>...");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "tongxin-infra");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        int partitions = Integer.parseInt(args[1]);

        List<NewTopic> topics = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            // Empty replication factor = broker's default.replication.factor (1 locally, right value remotely).
            topics.add(new NewTopic(args[i], Optional.of(partitions), Optional.empty()));
        }

        int failures = 0;
        try (Admin admin = Admin.create(props)) {
            CreateTopicsResult result = admin.createTopics(topics);
            for (Map.Entry<String, KafkaFuture<Void>> e : result.values().entrySet()) {
                try {
                    e.getValue().get();
                    System.out.println("created " + e.getKey() + " (" + partitions + " partitions)");
                } catch (ExecutionException ex) {
                    if (ex.getCause() instanceof TopicExistsException) {
                        System.out.println("exists  " + e.getKey());
                    } else {
                        failures++;
                        System.err.println("FAILED  " + e.getKey() + ": " + ex.getCause());
                    }
                }
            }
        }
        System.exit(failures == 0 ? 0 : 1);
    }
}
