"""Deploy: one module per resource family, one plan of steps, one executor for the calls.

config     StackConfig: every resource's name and size, the target
executor   Executor makes the calls; DisplayOnlyExecutor prints them (--dry-run)
storage    buckets and the images table      iam        one least-privilege role per function
functions  Lambdas, invoke permissions, S3 events   events   retries, dead letters, the sweep
identity   Cognito pool, app client, admins   api        REST API and its authorizer
site       CloudFront, headers, the page (AWS)
plan       the ordered steps of deploy and destroy, and their dry runs
"""
