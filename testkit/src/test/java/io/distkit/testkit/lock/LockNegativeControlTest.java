package io.distkit.testkit.lock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.memory.InMemoryLockServer;
import io.distkit.testkit.memory.InMemoryLockServer.Fault;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;
import org.junit.platform.testkit.engine.Events;

/**
 * A contract that cannot fail proves nothing. Each deliberately broken backend here must make the
 * named contract tests fail, and the correct one must pass them (it passes the whole contract in
 * {@link InMemoryLockContractTest}). The broken contract subclasses are
 * static nested classes so that Surefire does not run them on their own.
 */
class LockNegativeControlTest {

    @Test
    @DisplayName("the correct reference passes the tests the broken ones fail")
    void correctBackendPasses() {
        assertThat(failedTests(Correct.class, "heldLockExcludesOtherClients", "fuzzExactCounter",
                "nonReentrantLockBlocksItsHolder", "fencingTokensStrictlyIncrease", "waiterIsWokenByRelease",
                "unawareStaleHolderCannotReleaseNewHolder", "leaseExpiryFreesTheLock", "releaseIsOwnerOnly",
                "awkwardNamesStayDistinctAndIllegalOnesAreRefused")).isEmpty();
    }

    @Test
    @DisplayName("a store that folds names (case, trailing space, normalisation, 4-byte characters) is caught")
    void foldedNamesAreCaught() {
        assertThat(failedTests(FoldsNames.class, "awkwardNamesStayDistinctAndIllegalOnesAreRefused"))
                .containsExactly("awkwardNamesStayDistinctAndIllegalOnesAreRefused()");
    }

    @Test
    @DisplayName("no exclusion is caught by the exclusion tests and the fuzz counter")
    void noExclusionIsCaught() {
        assertThat(failedTests(NoExclusion.class, "heldLockExcludesOtherClients", "fuzzExactCounter",
                "nonReentrantLockBlocksItsHolder")).containsExactlyInAnyOrder(
                "heldLockExcludesOtherClients()", "fuzzExactCounter()", "nonReentrantLockBlocksItsHolder()");
    }

    @Test
    @DisplayName("a repeated fencing token is caught")
    void repeatedTokenIsCaught() {
        assertThat(failedTests(RepeatedToken.class, "fencingTokensStrictlyIncrease", "fuzzExactCounter",
                "waiterIsWokenByRelease")).containsExactlyInAnyOrder(
                "fencingTokensStrictlyIncrease()", "fuzzExactCounter()", "waiterIsWokenByRelease()");
    }

    @Test
    @DisplayName("a release by a non-owner is caught")
    void releaseByNonOwnerIsCaught() {
        assertThat(failedTests(ReleaseIgnoresOwner.class, "unawareStaleHolderCannotReleaseNewHolder"))
                .containsExactly("unawareStaleHolderCannotReleaseNewHolder()");
    }

    @Test
    @DisplayName("a lease that never runs out is caught")
    void leaseNeverExpiringIsCaught() {
        assertThat(failedTests(LeaseNeverExpires.class, "leaseExpiryFreesTheLock", "releaseIsOwnerOnly",
                "fencingTokensStrictlyIncrease")).containsExactlyInAnyOrder(
                "leaseExpiryFreesTheLock()", "releaseIsOwnerOnly()", "fencingTokensStrictlyIncrease()");
    }

    /** Runs the named contract tests against a backend; returns the names of those that failed. */
    private static Set<String> failedTests(Class<?> contract, String... methods) {
        var selectors = Arrays.stream(methods).map(method -> selectMethod(contract, method)).toList();
        Events tests = EngineTestKit.engine("junit-jupiter").selectors(selectors.toArray(DiscoverySelector[]::new))
                .execute().testEvents();
        assertThat(tests.started().count()).as("contract tests run").isEqualTo(methods.length);
        return tests.failed().stream()
                .map(Event::getTestDescriptor)
                .map(descriptor -> descriptor.getLegacyReportingName())
                .collect(Collectors.toSet());
    }

    /** The contract over an in-memory server with the given faults. */
    abstract static class OnFaultyServer extends LockClientContract {
        private final InMemoryLockServer server = InMemoryLockServer.withFaults(faults().toArray(Fault[]::new));

        abstract List<Fault> faults();

        @Override
        protected LockClient newClient(LockOptions defaults) {
            return server.newClient(defaults);
        }

        @Override
        protected void deleteLockState(String lockName) {
            server.delete(lockName);
        }
    }

    static class Correct extends OnFaultyServer {
        @Override
        List<Fault> faults() {
            return List.of();
        }
    }

    static class NoExclusion extends OnFaultyServer {
        @Override
        List<Fault> faults() {
            return List.of(Fault.NO_EXCLUSION);
        }
    }

    static class RepeatedToken extends OnFaultyServer {
        @Override
        List<Fault> faults() {
            return List.of(Fault.REPEATED_TOKEN);
        }
    }

    static class ReleaseIgnoresOwner extends OnFaultyServer {
        @Override
        List<Fault> faults() {
            return List.of(Fault.RELEASE_IGNORES_OWNER);
        }
    }

    static class FoldsNames extends OnFaultyServer {
        @Override
        List<Fault> faults() {
            return List.of(Fault.FOLDS_NAMES);
        }
    }

    static class LeaseNeverExpires extends OnFaultyServer {
        @Override
        List<Fault> faults() {
            return List.of(Fault.LEASE_NEVER_EXPIRES);
        }
    }
}
